package cli_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cronbox/testkit"
)

// go-cron --check reads flags, environment and schedule as a start would,
// says how it read the schedule, and starts nothing: the job never runs
// (its marker file stays absent) and the status port is not bound.
func TestCheckValidatesAndStartsNothing(t *testing.T) {
	bin := testkit.Build(t, "cronbox/go-cron")
	// A status address taken by someone else: a real start would fail on it,
	// --check does not listen at all.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		code int
		out  []string // in stdout (exit 0) or the one stderr line (exit 2)
	}{
		{"six fields", []string{"--check", "--run-on-start", "0 30 * * * *", "--", "touch", "MARK"}, nil, 0,
			[]string{`"0 30 * * * *"`, "6 fields, seconds first", "next ", ":30:00", "touch MARK"}},
		{"env schedule", []string{"--check", "--run-on-start", "--", "touch", "MARK"}, []string{"GOCRON_SCHEDULE=@every 90s"}, 0,
			[]string{"from GOCRON_SCHEDULE", "descriptor @every"}},
		{"zone", []string{"--check", "CRON_TZ=Europe/Paris 0 0 3 * * *", "--", "touch", "MARK"}, nil, 0,
			[]string{"zone Europe/Paris"}},
		{"once", []string{"--check", "--once", "--", "touch", "MARK"}, nil, 0, []string{"once", "touch MARK"}},
		{"bad field", []string{"--check", "61 * * * * *", "--", "touch", "MARK"}, nil, 2, []string{"field seconds", "61"}},
		{"bad env schedule", []string{"--check", "--", "touch", "MARK"}, []string{"GOCRON_SCHEDULE=every tuesday"}, 2, []string{"GOCRON_SCHEDULE"}},
		{"bad env timeout", []string{"--check", "@hourly", "--", "touch", "MARK"}, []string{"GOCRON_TIMEOUT=soon"}, 2, []string{"GOCRON_TIMEOUT", "soon"}},
		{"negative grace", []string{"--check", "--grace", "-1s", "@hourly", "--", "touch", "MARK"}, nil, 2, []string{"--grace"}},
		{"no command", []string{"--check", "@hourly"}, nil, 2, []string{"no command"}},
		{"lock without name", []string{"--check", "--lock-etcd", "http://127.0.0.1:9", "@hourly", "--", "touch", "MARK"}, nil, 2, []string{"--lock-name"}},
		{"lock with once", []string{"--check", "--once", "--lock-etcd", "http://127.0.0.1:9", "--lock-name", "j", "--", "touch", "MARK"}, nil, 2, []string{"--once"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin, tc.args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOCRON_STATUS_ADDR="+ln.Addr().String())
			cmd.Env = append(cmd.Env, tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, &stdout, &stderr)
			}
			msg := stdout.String()
			if tc.code == 0 {
				if stderr.Len() != 0 || !strings.HasPrefix(msg, "go-cron: ok: ") || strings.Count(msg, "\n") != 1 {
					t.Errorf("want one ok line on stdout and nothing on stderr: stdout %q stderr %q", msg, &stderr)
				}
			} else {
				msg = stderr.String()
				if stdout.Len() != 0 || strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "go-cron: ") {
					t.Errorf("want one error line on stderr: stdout %q stderr %q", &stdout, msg)
				}
			}
			for _, w := range tc.out {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "MARK")); err == nil {
				t.Errorf("--check ran the job")
			}
		})
	}
}
