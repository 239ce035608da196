package testkit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// SMTPServer is a real SMTP server (aiosmtpd, from PyPI) on loopback that
// keeps every mail it accepts.
type SMTPServer struct {
	Addr string // 127.0.0.1:PORT
	Dir  string // one N.json per mail
	logs *Buffer
}

// Mail is one accepted mail.
type Mail struct {
	MailFrom string   `json:"mail_from"`
	RcptTos  []string `json:"rcpt_tos"`
	Login    string   `json:"login"`   // the AUTH user, when auth was required
	Content  string   `json:"content"` // headers and body, as received
}

// AiosmtpdPython is the venv's python that has aiosmtpd (`make deps`
// creates it; CRONBOX_AIOSMTPD_VENV moves it).
func AiosmtpdPython(t testing.TB) string {
	t.Helper()
	venv := os.Getenv("CRONBOX_AIOSMTPD_VENV")
	if venv == "" {
		home, _ := os.UserHomeDir()
		venv = filepath.Join(home, ".cache", "cronbox", "aiosmtpd-venv")
	}
	py := filepath.Join(venv, "bin", "python")
	if err := exec.Command(py, "-c", "import aiosmtpd").Run(); err != nil {
		t.Fatalf("aiosmtpd is not installed in %s (%v): run `make deps` first", venv, err)
	}
	return py
}

// SMTP starts aiosmtpd and stops it when the test ends. With user and
// password set it requires AUTH (without TLS, as a local relay may).
func SMTP(t testing.TB, user, password string) *SMTPServer {
	t.Helper()
	py := AiosmtpdPython(t)
	s := &SMTPServer{Dir: t.TempDir(), logs: &Buffer{Limit: 1 << 20}}
	args := []string{filepath.Join(RepoRoot(t), "testkit", "smtpd.py"), "--dir", s.Dir}
	if user != "" {
		args = append(args, "--user", user, "--password", password)
	}
	cmd := exec.Command(py, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start aiosmtpd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
	}()
	select {
	case p := <-port:
		s.Addr = "127.0.0.1:" + p
	case <-time.After(20 * time.Second):
		t.Fatalf("aiosmtpd did not start: %s", s.logs)
	}
	return s
}

// Mails returns the mails accepted so far, oldest first.
func (s *SMTPServer) Mails() ([]Mail, error) {
	names, err := filepath.Glob(filepath.Join(s.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Slice(names, func(i, j int) bool {
		var a, b int
		fmt.Sscanf(filepath.Base(names[i]), "%d", &a)
		fmt.Sscanf(filepath.Base(names[j]), "%d", &b)
		return a < b
	})
	var out []Mail
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var m Mail
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Logs is what aiosmtpd wrote to stderr.
func (s *SMTPServer) Logs() string { return s.logs.String() }
