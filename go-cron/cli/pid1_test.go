package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/testkit"
)

// End-to-end tests of go-cron's process handling: a job's whole process
// group is stopped, leftover holders of its output are not waited on, and
// as PID 1 it reaps orphans and forwards SIGTERM (helpers in e2e_test.go).

// procState is the state letter of pid ("" when it is gone).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[0]
}

func TestTimeoutKillsGrandchildren(t *testing.T) {
	gc := filepath.Join(t.TempDir(), "gc")
	g := start(t, options{}, "--run-on-start", "--timeout", "300ms", never, "--",
		"sh", "-c", `(trap "" TERM; exec sleep 300) & echo $! > `+gc+`; sleep 300`)
	s := g.waitFinished(t, 10*time.Second)
	if !s.Last.TimedOut || s.Last.Signal != "SIGTERM" {
		t.Errorf("%+v", s.Last)
	}
	b, err := os.ReadFile(gc)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// go-cron is the grandchild's subreaper: gone means killed and reaped.
	testkit.WaitFor(t, 5*time.Second, "the grandchild to be killed and reaped", func() error {
		if st := procState(pid); st != "" {
			return fmt.Errorf("pid %d state %s", pid, st)
		}
		return nil
	})
}

func TestGrandchildHoldingStdout(t *testing.T) {
	g := start(t, options{}, "--run-on-start", never, "--", "sh", "-c", `sleep 300 & echo done`)
	s := g.waitFinished(t, 10*time.Second)
	if s.Last.Exit_status != 0 || s.Last.Stdout != "done\n" {
		t.Errorf("%+v", s.Last)
	}
}

// childrenOf lists pid's children (zombies included) from /proc.
func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(s)
			out = append(out, n)
		}
	}
	return out
}

// go-cron as PID 1 of a fresh pid namespace, as in the container.
func startPID1(t *testing.T, args ...string) (*gocron, int) {
	t.Helper()
	unshare := testkit.Need(t, "unshare")
	g := start(t, options{wrap: []string{unshare, "--pid", "--fork", "--mount-proc", "--kill-child"}}, args...)
	var pid int
	testkit.WaitFor(t, 20*time.Second, "go-cron under unshare", func() error {
		c := childrenOf(g.cmd.Process.Pid)
		if len(c) != 1 {
			return testkit.ErrNotYet
		}
		pid = c[0]
		g.pid = pid
		return nil
	})
	for _, l := range g.logs() {
		if l["msg"] == "schedule read" {
			return g, pid
		}
	}
	return g, pid
}

func TestPID1ReapsOrphans(t *testing.T) {
	// The orphans live until the test lets them go, so a slow machine can't
	// make them exit (and be reaped) before the test has seen them land.
	// The job exits only once each has left its process group (setsid has
	// run and it has said so in $READY): go-cron stops whatever is still in
	// the job's group when the job exits, and on a loaded machine a child
	// can still be between fork and setsid then.
	dir := t.TempDir()
	release, ready := filepath.Join(dir, "release"), filepath.Join(dir, "ready")
	if err := os.Mkdir(ready, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RELEASE", release)
	t.Setenv("READY", ready)
	g, pid := startPID1(t, "--run-on-start", never, "--", "sh", "-c",
		`for i in 1 2 3; do setsid sh -c 'touch "$READY/$$"; while [ ! -e "$RELEASE" ]; do sleep 0.05; done' </dev/null >/dev/null 2>&1 & done
		while [ "$(ls "$READY" | wc -l)" -lt 3 ]; do sleep 0.01; done; echo spawned`)
	s := g.waitFinished(t, 30*time.Second)
	if s.Last.Stdout != "spawned\n" {
		t.Fatalf("%+v", s.Last)
	}
	// The orphans are go-cron's children now...
	if n := len(childrenOf(pid)); n == 0 {
		t.Fatalf("the orphans did not land on go-cron (PID 1)")
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// ...and when they exit, none stays a zombie.
	testkit.WaitFor(t, 10*time.Second, "the orphans to be reaped", func() error {
		var left []string
		for _, c := range childrenOf(pid) {
			left = append(left, fmt.Sprintf("%d:%s", c, procState(c)))
		}
		if len(left) > 0 {
			return fmt.Errorf("children left: %v", left)
		}
		return nil
	})
}

func TestPID1ForwardsSIGTERM(t *testing.T) {
	for _, tc := range []struct {
		name   string
		grace  string
		script string
		exit   int
		stdout string
	}{
		// The job stops cleanly on the forwarded SIGTERM: the last run
		// succeeded. The grace period is only a guard here: a loaded
		// machine may take longer than a short one to schedule the trap.
		{"job exits on TERM", "30s", `trap 'echo got TERM; exit 0' TERM; touch "$READY"; while :; do sleep 0.05; done`, 0, "got TERM\n"},
		// The job ignores it: SIGKILL after the grace period, a failed run.
		{"job ignores TERM", "300ms", `trap '' TERM; touch "$READY"; while :; do sleep 0.05; done`, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready := filepath.Join(t.TempDir(), "ready")
			t.Setenv("READY", ready)
			g, pid := startPID1(t, "--grace", tc.grace, "--run-on-start", never, "--", "sh", "-c", tc.script)
			testkit.WaitFor(t, 10*time.Second, "the job to be ready", func() error { _, err := os.Stat(ready); return err })
			began := time.Now()
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if got := g.wait(t, 10*time.Second); got != tc.exit {
				t.Errorf("exit %d, want %d", got, tc.exit)
			}
			if d := time.Since(began); d > 5*time.Second {
				t.Errorf("shutdown took %s", d)
			}
			if g.stdout.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", g.stdout, tc.stdout)
			}
			if !strings.Contains(g.stderr.String(), `"signal":"SIGTERM"`) {
				t.Errorf("no forwarding logged:\n%s", g.stderr)
			}
		})
	}
}
