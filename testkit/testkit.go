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
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// FreePort returns a TCP port that was free a moment ago, on every address.
// Servers that cannot listen on port 0 and report it need one.
//
// It picks the port at random below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), never in it: the kernel hands ports of
// that range to every listen on port 0 and to every outgoing connection of
// every process, so on a busy machine a port it handed out once (what
// listening on port 0 here would return) is soon taken again by someone
// else, before the caller's server binds it ("address already in use").
// Below the range only another explicit choice can take it. A test binary
// never gets the same port twice.
func FreePort(t testing.TB) int {
	t.Helper()
	lo, hi := 10000, ephemeralLow()
	portsMu.Lock()
	defer portsMu.Unlock()
	for try := 0; hi > lo && try < 1000; try++ {
		p := lo + rand.IntN(hi-lo)
		if portsGiven[p] {
			continue
		}
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			continue // taken
		}
		l.Close()
		portsGiven[p] = true
		return p
	}
	// No room below the range: the kernel's choice, with its race.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
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
