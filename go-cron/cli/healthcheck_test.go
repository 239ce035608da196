package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/testkit"
)

// healthcheckRun runs `go-cron --healthcheck` the way an engine runs the
// image's HEALTHCHECK: a separate process with the container's environment
// and none of PID 1's arguments.
func healthcheckRun(t *testing.T, env ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(testkit.Build(t, "cronbox/go-cron"), "--healthcheck")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// go-cron records the address it bound in GOCRON_STATUS_FILE, so the
// healthcheck follows a status port moved by a flag it cannot see (here a
// random port); the file goes away with go-cron, and a dead go-cron is
// unhealthy.
func TestHealthcheckFollowsTheBoundAddress(t *testing.T) {
	file := filepath.Join(t.TempDir(), "status-addr")
	g := start(t, options{env: []string{"GOCRON_STATUS_FILE=" + file}}, "@hourly", "--", "true")
	b, err := os.ReadFile(file)
	if err != nil || strings.TrimSpace(string(b)) != g.addr {
		t.Fatalf("status file %q (%v), want the bound address %s", b, err, g.addr)
	}
	if code, out := healthcheckRun(t, "GOCRON_STATUS_FILE="+file); code != 0 || !strings.Contains(out, g.addr) {
		t.Fatalf("healthcheck: exit %d, want 0 naming %s:\n%s", code, g.addr, out)
	}
	syscall.Kill(g.pid, syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("go-cron did not stop")
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("the status file is left after exit: %v", err)
	}
	// No file: the configured address, where nothing answers now.
	code, out := healthcheckRun(t, "GOCRON_STATUS_FILE="+file, "GOCRON_STATUS_ADDR="+g.addr)
	if code != 1 || !strings.HasPrefix(out, "go-cron: healthcheck: GET http://"+g.addr+"/healthz") || strings.Count(out, "\n") != 1 {
		t.Errorf("healthcheck of a stopped go-cron: exit %d, want 1 and one line naming the URL:\n%s", code, out)
	}
}

// The status port turned off is a supported setting: healthy, whether the
// file or the environment says so.
func TestHealthcheckPassesWithTheStatusPortOff(t *testing.T) {
	file := filepath.Join(t.TempDir(), "status-addr")
	cmd := exec.Command(testkit.Build(t, "cronbox/go-cron"), "--status-addr", "off", "@hourly", "--", "true")
	cmd.Env = append(os.Environ(), "GOCRON_STATUS_FILE="+file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	testkit.WaitFor(t, 20*time.Second, "the status file", func() error {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(b)) != "off" {
			t.Fatalf("status file %q, want off", b)
		}
		return nil
	})
	if code, out := healthcheckRun(t, "GOCRON_STATUS_FILE="+file); code != 0 || !strings.Contains(out, "off") {
		t.Errorf("healthcheck: exit %d, want 0 (status port off):\n%s", code, out)
	}
	if code, out := healthcheckRun(t, "GOCRON_STATUS_ADDR=off"); code != 0 {
		t.Errorf("healthcheck with GOCRON_STATUS_ADDR=off and no file: exit %d, want 0:\n%s", code, out)
	}
}

// A status file that cannot be written is a warning naming the variable;
// the scheduler and its status port run on.
func TestUnwritableStatusFileWarns(t *testing.T) {
	g := start(t, options{env: []string{"GOCRON_STATUS_FILE=/nonexistent-dir/status-addr"}}, "@hourly", "--", "true")
	if code, _ := g.get(t, "/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	found := false
	for _, l := range g.logs() {
		if l["level"] == "WARN" && l["GOCRON_STATUS_FILE"] == "/nonexistent-dir/status-addr" {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning naming GOCRON_STATUS_FILE:\n%s", g.stderr)
	}
}
