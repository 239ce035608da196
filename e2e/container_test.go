package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cronbox/testkit"
)

// The rootfs is assembled once per test binary, by the same script as
// `make rootfs`, so `go test` alone builds what it tests.
var (
	rootfsOnce sync.Once
	rootfsDir  string
	rootfsErr  error
	tempRoot   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	closeEngine() // before the store under it goes
	if tempRoot != "" {
		os.RemoveAll(tempRoot)
	}
	os.Exit(code)
}

// assembled returns the directory of a freshly assembled rootfs.
func assembled(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the container tests need root (unshare --pid, chroot); CI runs as root")
	}
	testkit.Need(t, "unshare")
	testkit.Need(t, "busybox")
	rootfsOnce.Do(func() {
		root := testkit.RepoRoot(t)
		tempRoot, rootfsErr = os.MkdirTemp("", "cronbox-e2e-")
		if rootfsErr != nil {
			return
		}
		// Inside an image build context (see image_test.go): the Dockerfile
		// copies build/rootfs.
		rootfsDir = filepath.Join(tempRoot, "context", "build", "rootfs")
		cmd := exec.Command(filepath.Join(root, "rootfs/assemble"), rootfsDir)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "VERSION=e2e")
		if out, err := cmd.CombinedOutput(); err != nil {
			rootfsErr = fmt.Errorf("rootfs/assemble: %v\n%s", err, out)
		}
	})
	if rootfsErr != nil {
		t.Fatal(rootfsErr)
	}
	return rootfsDir
}

// Container is one run of the image: a private copy of the rootfs started
// with rootfs/run (the Docker-less `docker run`).
type Container struct {
	Dir    string // its root filesystem
	Status string // http://127.0.0.1:PORT, the status port
	Port   int

	cmd    *exec.Cmd
	logs   *testkit.Buffer
	done   chan struct{}
	status int // exit status, once done is closed
}

// Start runs the image with env as its whole environment (PATH is added)
// and args as the entrypoint's arguments, with the status port on a free
// loopback port. It stops the container (SIGKILL) when the test ends.
func Start(t *testing.T, env map[string]string, args ...string) *Container {
	t.Helper()
	return StartWithFiles(t, env, nil, args...)
}

// StartWithFiles is Start with files (path inside the container -> content)
// written into its rootfs first, readable only by the image's user: the way
// a mounted Docker or Kubernetes secret looks.
func StartWithFiles(t *testing.T, env, files map[string]string, args ...string) *Container {
	t.Helper()
	src := assembled(t)
	c := &Container{Dir: filepath.Join(t.TempDir(), "rootfs"), logs: &testkit.Buffer{Limit: 4 << 20}, done: make(chan struct{})}
	if out, err := exec.Command("cp", "-a", src, c.Dir).CombinedOutput(); err != nil {
		t.Fatalf("copy the rootfs: %v\n%s", err, out)
	}
	for path, content := range files {
		c.WriteFile(t, path, content)
	}
	c.Port = testkit.FreePort(t)
	c.Status = "http://127.0.0.1:" + strconv.Itoa(c.Port)
	run := filepath.Join(testkit.RepoRoot(t), "rootfs/run")
	c.cmd = exec.Command(run, append([]string{c.Dir, "-p", strconv.Itoa(c.Port)}, args...)...)
	// PATH serves both sides: the host's unshare/chroot and the image's tools.
	c.cmd.Env = []string{"PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"}
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	// Its own process group, so the cleanup can kill rootfs/run and unshare
	// together (unshare's --kill-child then takes the whole container).
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.cmd.WaitDelay = 5 * time.Second
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start the container: %v", err)
	}
	go func() {
		err := c.cmd.Wait()
		c.status = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			c.status = ee.ExitCode()
		} else if err != nil {
			c.status = -1
		}
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
		}
		if t.Failed() {
			t.Logf("container output:\n%s", c.Logs())
		}
	})
	return c
}

// WriteFile writes a file inside the container (mode 0600, owned by the
// image's user 10001), replacing it atomically if it exists.
func (c *Container) WriteFile(t *testing.T, path, content string) {
	t.Helper()
	full := filepath.Join(c.Dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := full + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, 10001, 10001); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, full); err != nil {
		t.Fatal(err)
	}
}

// Cmdlines returns the command lines of the processes running in the
// container now (their root is its rootfs), read from the host's /proc.
func (c *Container) Cmdlines(t *testing.T) []string {
	t.Helper()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		root, err := os.Readlink(filepath.Join("/proc", p.Name(), "root"))
		if err != nil || root != c.Dir {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil {
			out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// Logs is what the container printed so far (stdout and stderr).
func (c *Container) Logs() string { return c.logs.String() }

// Signal sends sig to the container the way `docker stop` does: rootfs/run
// forwards it to PID 1.
func (c *Container) Signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal the container: %v", err)
	}
}

// Wait waits up to timeout for the container to exit and returns its exit
// status, or fails the test.
func (c *Container) Wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
		return c.status
	case <-time.After(timeout):
		t.Fatalf("the container did not exit within %s", timeout)
		return 0
	}
}

// Exited reports whether the container has exited.
func (c *Container) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// StatusDoc is go-cron's status JSON: the keys monitors parse.
type StatusDoc struct {
	Running map[string]json.RawMessage
	Last    *struct {
		Exit_status  int
		Stdout       string
		Stderr       string
		ExitTime     string
		Pid          int
		StartingTime string
	}
	Schedule string
}

// Get fetches path from the status port.
func (c *Container) Get(path string) (int, []byte, error) {
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(c.Status + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// WaitRun waits until a run has finished and returns the HTTP status, the
// decoded document and the raw body of the status port's answer.
func (c *Container) WaitRun(t *testing.T, timeout time.Duration) (int, StatusDoc, []byte) {
	t.Helper()
	var code int
	var doc StatusDoc
	var body []byte
	testkit.WaitFor(t, timeout, "a finished run on the status port", func() error {
		if c.Exited() {
			t.Fatalf("the container exited with status %d before a run finished", c.status)
		}
		var err error
		code, body, err = c.Get("/")
		if err != nil {
			return err
		}
		doc = StatusDoc{}
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("status JSON: %v: %s", err, body)
		}
		if doc.Last == nil || doc.Last.ExitTime == "" {
			return testkit.ErrNotYet
		}
		return nil
	})
	return code, doc, body
}
