package run

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/go-cron/reaper"
	"cronbox/testkit"
)

// The test process reaps like go-cron does: orphans of the jobs become its
// children, and the reaper leaves the runner's own child to exec.Cmd.Wait.
var testReaper = reaper.New(nil)

func TestMain(m *testing.M) {
	if err := reaper.SetSubreaper(); err != nil {
		panic(err)
	}
	go testReaper.Run(context.Background())
	os.Exit(m.Run())
}

func cfg(script string) Config {
	return Config{Command: []string{"sh", "-c", script}, Tail: 1024, Grace: 300 * time.Millisecond, PipeWait: 200 * time.Millisecond, Guard: testReaper}
}

func TestRunResults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		command []string
		status  int
		signal  string
		stdout  string
		stderr  string
		errText string
	}{
		{"success", []string{"sh", "-c", "echo out; echo err >&2"}, 0, "", "out\n", "err\n", ""},
		{"failure", []string{"sh", "-c", "echo bad >&2; exit 3"}, 3, "", "", "bad\n", ""},
		{"killed by signal", []string{"sh", "-c", "kill -KILL $$"}, 137, "SIGKILL", "", "", ""},
		{"not found", []string{"/no/such/program"}, 127, "", "", "", "start /no/such/program"},
		{"not executable", []string{"/"}, 126, "", "", "", "start /"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var live testkit.Buffer
			c := cfg("")
			c.Command, c.Stdout = tc.command, &live
			var startedPid int
			r := Run(context.Background(), c, func(pid int, _ time.Time) { startedPid = pid })
			if r.ExitStatus != tc.status || r.Signal != tc.signal || r.Stdout != tc.stdout || r.Stderr != tc.stderr {
				t.Errorf("got %+v", r)
			}
			if !strings.Contains(r.Error, tc.errText) || (tc.errText == "") != (r.Error == "") {
				t.Errorf("error %q, want %q", r.Error, tc.errText)
			}
			if live.String() != tc.stdout {
				t.Errorf("live stdout %q, want %q", live.String(), tc.stdout)
			}
			if r.OK() != (tc.status == 0) || startedPid != r.Pid {
				t.Errorf("OK %v, pid %d/%d", r.OK(), startedPid, r.Pid)
			}
		})
	}
}

// dead reports whether pid has exited (gone, or a zombie nobody reaped yet).
func dead(pid int) error {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 0 && f[0] == "Z" {
		return nil
	}
	return testkit.ErrNotYet
}

func readPid(t *testing.T, file string) int {
	t.Helper()
	var pid int
	testkit.WaitFor(t, 5*time.Second, file, func() error {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	return pid
}

// A timeout sends SIGTERM to the whole group, then SIGKILL to what ignores
// it: here a grandchild that also keeps the output pipe open.
func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	gc := filepath.Join(t.TempDir(), "gc")
	c := cfg(`(trap "" TERM; exec sleep 300) & echo $! > ` + gc + `; wait`)
	c.Timeout = 200 * time.Millisecond
	start := time.Now()
	r := Run(context.Background(), c, nil)
	if !r.TimedOut || r.Signal != "SIGTERM" || r.ExitStatus != 128+int(syscall.SIGTERM) || r.OK() {
		t.Errorf("got %+v", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
	pid := readPid(t, gc)
	testkit.WaitFor(t, 5*time.Second, "the grandchild that ignored SIGTERM to be killed", func() error { return dead(pid) })
}

// A grandchild holding stdout must not hold the run: it ends PipeWait after
// the job, and the leftover is stopped with it.
func TestGrandchildHoldingThePipe(t *testing.T) {
	gc := filepath.Join(t.TempDir(), "gc")
	c := cfg(`sleep 300 & echo $! > ` + gc + `; echo done`)
	start := time.Now()
	r := Run(context.Background(), c, nil)
	if !r.OK() || r.Stdout != "done\n" {
		t.Errorf("got %+v", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run took %s: the pipe held it", d)
	}
	pid := readPid(t, gc)
	testkit.WaitFor(t, 5*time.Second, "the leftover grandchild to be stopped", func() error { return dead(pid) })
}

// Stopping forwards the signal given as the cause to the job's group.
func TestStopForwardsTheSignal(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	c := cfg(`trap 'echo got INT; exit 5' INT; touch ` + ready + `; while :; do sleep 0.05; done`)
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan Result)
	go func() { done <- Run(ctx, c, nil) }()
	testkit.WaitFor(t, 5*time.Second, "the job to be ready", func() error { _, err := os.Stat(ready); return err })
	cancel(StopSignal{Signal: syscall.SIGINT})
	r := <-done
	if !r.Stopped || r.ExitStatus != 5 || r.Stdout != "got INT\n" {
		t.Errorf("got %+v", r)
	}
}
