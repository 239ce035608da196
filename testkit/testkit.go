// Package testkit starts the real things cronbox's tests run against
// (versitygw, etcd, OpenSearch, our own binaries) and waits for conditions
// with deadlines instead of sleeping.
//
// A test that needs a server or a program that is not installed fails: it
// never skips, so a missing install step shows up as a red test, not a quiet
// one. `make deps` (which .ci/run calls) installs everything.
package testkit

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Need returns the path of program, or fails the test when it is missing.
func Need(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		t.Fatalf("%s is not installed (%v): run `make deps` first", program, err)
	}
	return p
}

// WaitFor polls cond until it returns nil or timeout passes, then fails the
// test with cond's last error.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Poll(timeout, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// Poll calls cond until it returns nil or timeout passes, and returns cond's
// last error (or nil). The interval grows from 5 ms to 100 ms.
func Poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	interval := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		time.Sleep(interval)
		if interval < 100*time.Millisecond {
			interval *= 2
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago. Servers
// that cannot listen on port 0 and report it need one; callers retry on
// "address in use".
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Dial reports whether something accepts TCP connections on addr.
func Dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	return c.Close()
}

var (
	buildMu    sync.Mutex
	buildCache = map[string]string{}
	buildDir   string
)

// Build compiles the main package pkg (an import path such as
// "cronbox/go-cron") once per test binary, statically and stripped like
// `make build`, and returns the binary's path. Tests that exercise a real
// process use it instead of depending on `make build` having run.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := buildCache[pkg]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "cronbox-testbin-")
		if err != nil {
			t.Fatalf("build %s: %v", pkg, err)
		}
		buildDir = d // left for the OS: several tests of one binary share it
	}
	out := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	buildCache[pkg] = out
	return out
}

// RepoRoot returns the repository's top directory (the one holding go.work).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("repo root: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repo root: no go.work above the test's directory")
		}
		dir = parent
	}
}

// ErrNotYet is what a condition returns while it is still false.
var ErrNotYet = errors.New("not yet")
