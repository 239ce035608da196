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

func TestOnceExitsWithTheJobStatus(t *testing.T) {
	for _, code := range []int{0, 7} {
		g := start(t, options{}, "--once", "--", "sh", "-c", fmt.Sprintf("echo once; exit %d", code))
		if got := g.wait(t, 30*time.Second); got != code {
			t.Errorf("exit %d, want %d", got, code)
		}
		if g.stdout.String() != "once\n" {
			t.Errorf("stdout %q", g.stdout)
		}
	}
}

// 1 GiB through go-cron's pipes: its peak RSS does not grow with the
// output. It is measured against the same go-cron passing 64 MiB, which
// fills the tails and is polled for its status the same way: the binary,
// the runtime and the status answers (64 KiB tails of NULs, escaped) cost
// the same in both, and vary with the machine's load. An absolute bound of
// 16 MiB failed 2 of 11 runs on a loaded machine (16.0-16.4 MiB) once the
// binary had grown; keeping even 1% of the output would add 10 MiB here.
func TestOneGiBOfOutputKeepsMemoryBounded(t *testing.T) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	peak := func(script string, tail int) int {
		t.Helper()
		g := start(t, options{stdout: devnull}, "--run-on-start", never, "--", "sh", "-c", script)
		s := g.waitFinished(t, 120*time.Second)
		if s.Last.Exit_status != 0 || len(s.Last.Stdout) != tail || !strings.HasSuffix(s.Last.Stdout, "end") {
			t.Errorf("%s: exit %d, tail %d bytes", script, s.Last.Exit_status, len(s.Last.Stdout))
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		var hwm int
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				hwm, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			}
		}
		if hwm == 0 {
			t.Fatalf("no VmHWM in /proc/%d/status", g.cmd.Process.Pid)
		}
		return hwm
	}
	base := peak("head -c 67108864 /dev/zero; echo -n end", 64<<10)
	hwm := peak("head -c 1073741824 /dev/zero; echo -n end", 64<<10)
	t.Logf("go-cron peak RSS after 1 GiB of output: %d kB (after 64 MiB: %d kB)", hwm, base)
	if hwm-base > 8<<10 {
		t.Errorf("VmHWM %d kB after 1 GiB, %d kB after 64 MiB: want at most 8 MiB more", hwm, base)
	}
}

func TestBadUsageExits2NamingIt(t *testing.T) {
	bin := testkit.Build(t, "cronbox/go-cron")
	for _, tc := range []struct {
		args []string
		env  []string
		want []string
	}{
		{[]string{"0 70 * * * *", "--", "true"}, nil, []string{"field minutes", `"70"`}},
		{[]string{"* * *", "--", "true"}, nil, []string{"found 3"}},
		{[]string{"CRON_TZ=Mars/Base * * * * *", "--", "true"}, nil, []string{"time zone", "Mars/Base"}},
		{[]string{"--", "true"}, []string{"GOCRON_SCHEDULE=61 * * * * *"}, []string{"GOCRON_SCHEDULE", "field seconds"}},
		{[]string{"--timeout", "soon", "@hourly", "--", "true"}, nil, []string{"-timeout", "soon"}},
		{[]string{"--nope", "@hourly", "--", "true"}, nil, []string{"-nope"}},
		{[]string{"@hourly", "--", "true"}, []string{"HEALTH_MAX_AGE=old"}, []string{"HEALTH_MAX_AGE", "old"}},
		{[]string{"-p", "http", "@hourly", "--", "true"}, nil, []string{"-p", "http"}},
		{[]string{"--log-format", "xml", "@hourly", "--", "true"}, nil, []string{"--log-format", "xml"}},
		{[]string{"@hourly"}, nil, []string{"no command"}},
		{[]string{"--", "true"}, nil, []string{"no schedule"}},
		{[]string{"--secret-names", "[x", "@hourly", "--", "true"}, nil, []string{"--secret-names"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("err %v, want exit 2; stderr %s", err, &stderr)
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "go-cron: ") {
				t.Errorf("want one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
		})
	}
	for _, a := range []string{"--help", "--version"} {
		out, err := exec.Command(bin, a).Output()
		if err != nil || len(out) == 0 {
			t.Errorf("%s: %v %q", a, err, out)
		}
	}
}

// The secret canary reaches the job (its own output passes through as it
// is) but never go-cron's status JSON, metrics or log lines.
func TestSecretCanaryNeverServed(t *testing.T) {
	const canary = "canary-7f3a9c2e"
	g := start(t, options{env: []string{"BACKUP_API_TOKEN=" + canary}},
		"--run-on-start", never, "--", "sh", "-c", `echo "out `+canary+`"; echo "err $BACKUP_API_TOKEN" >&2; exit 4`)
	s := g.waitFinished(t, 10*time.Second)
	if s.Last.Stdout != "out ***\n" || s.Last.Stderr != "err ***\n" {
		t.Errorf("tails %q %q", s.Last.Stdout, s.Last.Stderr)
	}
	for _, p := range []string{"/", "/metrics"} {
		if _, b := g.get(t, p); bytes.Contains(b, []byte(canary)) {
			t.Errorf("%s serves the canary:\n%s", p, b)
		}
	}
	if !strings.Contains(g.stdout.String(), canary) {
		t.Errorf("the job's live output should pass through as it is: %q", g.stdout)
	}
	logs := 0
	for _, line := range strings.Split(g.stderr.String(), "\n") {
		if strings.HasPrefix(line, "{") {
			logs++
			if strings.Contains(line, canary) {
				t.Errorf("log line carries the canary: %s", line)
			}
		}
	}
	if logs < 3 || !strings.Contains(g.stderr.String(), `"command":"sh -c echo \"out ***\"`) {
		t.Errorf("expected the command, masked, in go-cron's logs:\n%s", g.stderr)
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
