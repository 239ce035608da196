package cli_test

import (
	"bufio"
	"bytes"
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
	"syscall"
	"testing"
	"time"

	"cronbox/testkit"
)

// These tests run the real go-cron binary with real jobs (sh scripts) and
// read its real status port.

type gocron struct {
	cmd    *exec.Cmd
	stdout *testkit.Buffer
	stderr *testkit.Buffer
	addr   string
	exited chan struct{}
	err    error
	pid    int // go-cron's pid (under unshare: the namespace's PID 1, seen from here)
}

type options struct {
	wrap   []string // e.g. unshare ... in front of the binary
	env    []string
	stdout io.Writer // nil: kept in a buffer
}

// start runs go-cron with args after the test's own flags (JSON logs, a
// free status port) and waits for its status port.
func start(t *testing.T, o options, args ...string) *gocron {
	t.Helper()
	bin := testkit.Build(t, "cronbox/go-cron")
	argv := append(append(append([]string{}, o.wrap...), bin, "--status-addr", "127.0.0.1:0", "--log-format", "json", "--grace", "300ms", "--pipe-wait", "200ms"), args...)
	g := &gocron{stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{}, exited: make(chan struct{})}
	g.cmd = exec.Command(argv[0], argv[1:]...)
	g.cmd.Env = append(os.Environ(), o.env...)
	g.cmd.Stdout = g.stdout
	if o.stdout != nil {
		g.cmd.Stdout = o.stdout
	}
	g.cmd.Stderr = g.stderr
	g.cmd.WaitDelay = time.Second // a job left running must not hang the test
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.pid = g.cmd.Process.Pid
	go func() { g.err = g.cmd.Wait(); close(g.exited) }()
	t.Cleanup(func() {
		// SIGTERM lets go-cron stop its job; SIGKILL if that takes too long.
		syscall.Kill(g.pid, syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(5 * time.Second):
			g.cmd.Process.Kill()
			<-g.exited
		}
		if t.Failed() {
			t.Logf("go-cron stderr:\n%s", g.stderr)
		}
	})
	testkit.WaitFor(t, 20*time.Second, "go-cron's status port", func() error {
		// Logs first: a --once run may have listened, run and exited
		// before the first look.
		for _, l := range g.logs() {
			if l["msg"] == "status listening" {
				g.addr = l["addr"].(string)
				return nil
			}
		}
		select {
		case <-g.exited:
			return fmt.Errorf("go-cron exited: %v\n%s", g.err, g.stderr)
		default:
		}
		return testkit.ErrNotYet
	})
	return g
}

// logs returns go-cron's own (JSON) log lines; the job's stderr is mixed in
// and skipped.
func (g *gocron) logs() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(g.stderr.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] != nil {
			out = append(out, m)
		}
	}
	return out
}

type statusJSON struct {
	Running map[string]struct {
		Pid          int
		StartingTime string
	}
	Last struct {
		Exit_status  int //nolint:revive
		Stdout       string
		Stderr       string
		ExitTime     string
		Pid          int
		StartingTime string
		Signal       string
		TimedOut     bool
	}
	Schedule string
	Health   string
	Skipped  map[string]int
	History  []json.RawMessage
}

func (g *gocron) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + g.addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (g *gocron) status(t *testing.T) (int, statusJSON, map[string]json.RawMessage) {
	t.Helper()
	code, b := g.get(t, "/")
	var s statusJSON
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, b)
	}
	json.Unmarshal(b, &raw)
	return code, s, raw
}

// waitFinished waits for the first run to have finished.
func (g *gocron) waitFinished(t *testing.T, timeout time.Duration) statusJSON {
	t.Helper()
	var s statusJSON
	testkit.WaitFor(t, timeout, "a finished run", func() error {
		_, s, _ = g.status(t)
		if s.Last.Pid == 0 {
			return testkit.ErrNotYet
		}
		return nil
	})
	return s
}

func (g *gocron) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-g.exited:
	case <-time.After(timeout):
		t.Fatalf("go-cron did not exit within %s", timeout)
	}
	var ee *exec.ExitError
	if errors.As(g.err, &ee) {
		return ee.ExitCode()
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	return 0
}

const never = "0 0 1 1 *" // once a year: runs come from --run-on-start only

func TestStatusPort(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		script string
		await  func(s statusJSON, health string) bool
		code   int
		check  func(t *testing.T, s statusJSON)
	}{
		{"never ran", []string{never}, "true",
			func(statusJSON, string) bool { return true }, 200,
			func(t *testing.T, s statusJSON) {
				if s.Last.Pid != 0 || len(s.Running) != 0 || s.Last.StartingTime != "" {
					t.Errorf("%+v", s)
				}
			}},
		{"success", []string{"--run-on-start", never}, "echo hello; echo warn >&2",
			func(s statusJSON, _ string) bool { return s.Last.Pid != 0 }, 200,
			func(t *testing.T, s statusJSON) {
				if s.Last.Exit_status != 0 || s.Last.Stdout != "hello\n" || s.Last.Stderr != "warn\n" || s.Last.ExitTime == "" {
					t.Errorf("%+v", s.Last)
				}
			}},
		{"failure", []string{"--run-on-start", never}, "echo bad >&2; exit 3",
			func(s statusJSON, _ string) bool { return s.Last.Pid != 0 }, 503,
			func(t *testing.T, s statusJSON) {
				if s.Last.Exit_status != 3 || s.Last.Stderr != "bad\n" || s.Health != "last run failed: exit status 3" {
					t.Errorf("%+v", s)
				}
			}},
		{"killed by signal", []string{"--run-on-start", never}, "kill -TERM $$",
			func(s statusJSON, _ string) bool { return s.Last.Pid != 0 }, 503,
			func(t *testing.T, s statusJSON) {
				if s.Last.Signal != "SIGTERM" || s.Last.Exit_status != 143 || s.Health != "last run failed: killed by SIGTERM" {
					t.Errorf("%+v", s)
				}
			}},
		{"running", []string{"--run-on-start", never}, "exec sleep 300",
			func(s statusJSON, _ string) bool { return len(s.Running) == 1 }, 200,
			func(t *testing.T, s statusJSON) {
				for k, r := range s.Running {
					if k != strconv.Itoa(r.Pid) || r.StartingTime == "" {
						t.Errorf("Running %q: %+v", k, r)
					}
				}
			}},
		// Never ran: healthy until the first fire time plus max age has
		// passed (the first run hangs, so no run ever succeeds).
		{"never succeeded, stale", []string{"--max-age", "1s", "* * * * * *"}, "exec sleep 300",
			func(_ statusJSON, h string) bool { return strings.HasPrefix(h, "stale") }, 503,
			func(t *testing.T, s statusJSON) {
				if !strings.Contains(s.Health, "no successful run since the first fire time") || len(s.Running) != 1 {
					t.Errorf("%+v", s)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := start(t, options{}, append(tc.args, "--", "sh", "-c", tc.script)...)
			var s statusJSON
			var code int
			var raw map[string]json.RawMessage
			testkit.WaitFor(t, 20*time.Second, "the awaited state", func() error {
				code, s, raw = g.status(t)
				if !tc.await(s, s.Health) {
					return testkit.ErrNotYet
				}
				return nil
			})
			if code != tc.code {
				t.Errorf("HTTP %d, want %d: %+v", code, tc.code, s)
			}
			for _, k := range []string{"Running", "Last", "Schedule"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("key %s missing", k)
				}
			}
			var last map[string]json.RawMessage
			json.Unmarshal(raw["Last"], &last)
			for _, k := range []string{"Exit_status", "Stdout", "Stderr", "ExitTime", "Pid", "StartingTime"} {
				if _, ok := last[k]; !ok {
					t.Errorf("key Last.%s missing", k)
				}
			}
			if s.Schedule != tc.args[len(tc.args)-1] {
				t.Errorf("Schedule %q", s.Schedule)
			}
			tc.check(t, s)
			if code, b := g.get(t, "/healthz"); code != 200 || string(b) != "ok\n" {
				t.Errorf("/healthz %d %q", code, b)
			}
		})
	}
}

// A run that succeeded, then a run that hangs: stale once the success is
// older than --max-age.
func TestStaleAfterSuccess(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	g := start(t, options{}, "--max-age", "1s", "* * * * * *", "--",
		"sh", "-c", `if [ -e `+marker+` ]; then exec sleep 300; fi; touch `+marker)
	s := g.waitFinished(t, 10*time.Second)
	if s.Last.Exit_status != 0 {
		t.Fatalf("%+v", s.Last)
	}
	testkit.WaitFor(t, 10*time.Second, "503 stale", func() error {
		code, s, _ := g.status(t)
		if code != 503 || !strings.HasPrefix(s.Health, "stale: last success") {
			return fmt.Errorf("%d %q", code, s.Health)
		}
		return nil
	})
}

func TestOverlapIsSkippedAndCounted(t *testing.T) {
	release := filepath.Join(t.TempDir(), "release")
	g := start(t, options{}, "* * * * * *", "--",
		"sh", "-c", `while [ ! -e `+release+` ]; do sleep 0.02; done; echo released`)
	testkit.WaitFor(t, 15*time.Second, "two skipped overlaps", func() error {
		_, s, _ := g.status(t)
		if s.Skipped["overlap"] < 2 || len(s.Running) != 1 {
			return fmt.Errorf("skipped %v, running %d", s.Skipped, len(s.Running))
		}
		return nil
	})
	_, m := g.get(t, "/metrics")
	if !bytes.Contains(m, []byte(`gocron_skipped_total{reason="overlap"} `)) || !bytes.Contains(m, []byte("gocron_running 1\n")) {
		t.Errorf("metrics:\n%s", m)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := g.waitFinished(t, 10*time.Second)
	if s.Last.Stdout != "released\n" {
		t.Errorf("%+v", s.Last)
	}
	skips := 0
	for _, l := range g.logs() {
		if l["msg"] == "run skipped" && l["reason"] == "overlap" {
			skips++
		}
	}
	if skips < 2 {
		t.Errorf("%d skips logged", skips)
	}
}
