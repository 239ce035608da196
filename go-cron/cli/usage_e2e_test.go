package cli_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"cronbox/testkit"
)

// End-to-end tests of go-cron's command line and output: --once, a job's
// huge output, bad usage, secrets in the environment.

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
