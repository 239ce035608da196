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
			[]string{`"0 30 * * * *"`, "6 fields, seconds first: at second 0 of minute 30 of every hour", "next 3 fire times", ":30:00", "touch MARK"}},
		// Five fields: the reading in words, and how to write the other one.
		{"five fields", []string{"--check", "*/5 * * * *", "--", "touch", "MARK"}, nil, 0,
			[]string{"5 fields, minute first (standard cron): at second 0 of every 5th minute",
				`go-cron: 5 fields: the original go-cron read 5 fields seconds first (every 5th second): for that, write "*/5 * * * * *" or set GOCRON_FIELDS=seconds`}},
		{"five fields, seconds", []string{"--check", "--from", "2026-11-27T13:36:25Z", "--count", "2", "*/5 * * * *", "--", "touch", "MARK"}, []string{"GOCRON_FIELDS=seconds"}, 0,
			[]string{"5 fields, seconds first (the original go-cron's reading; day-of-week *): every 5th second",
				`write "0 */5 * * * *" or unset GOCRON_FIELDS`, "2026-11-27T13:36:30Z Fri\n", "2026-11-27T13:36:35Z Fri\n"}},
		{"seven is Sunday", []string{"--check", "--from", "2026-11-27T13:36:25Z", "--count", "1", "CRON_TZ=UTC 0 0 * * 7", "--", "touch", "MARK"}, nil, 0,
			[]string{"at 00:00:00 on Sunday", "next 1 fire time after 2026-11-27T13:36:25Z:\n", "go-cron:   2026-11-29T00:00:00Z Sun\n"}},
		// DST: --from and --count show the spring change in Berlin...
		{"spring in Berlin", []string{"--check", "--from", "2026-03-29T00:00:00+01:00", "--count", "3", "CRON_TZ=Europe/Berlin 30 2 * * *", "--", "touch", "MARK"}, nil, 0,
			[]string{"next 3 fire times after 2026-03-29T00:00:00+01:00:\n",
				"go-cron:   2026-03-29T03:00:00+02:00 Sun (for 02:30:00, which the change to CEST skips: a fixed-time job runs right after the change)\n",
				"go-cron:   2026-03-30T02:30:00+02:00 Mon\n", "go-cron:   2026-03-31T02:30:00+02:00 Tue\n"}},
		// ...and the autumn one in New York, a date read in the schedule's zone.
		{"autumn in New York", []string{"--check", "--from", "2026-11-01", "--count", "3", "--", "touch", "MARK"}, []string{"CRON_TZ=America/New_York", "GOCRON_SCHEDULE=30 1 * * *"}, 0,
			[]string{"after 2026-11-01T00:00:00-04:00:\n",
				"go-cron:   2026-11-01T01:30:00-04:00 Sun (01:30:00 comes again in EST: a fixed-time job runs the first time only)\n",
				"go-cron:   2026-11-02T01:30:00-05:00 Mon\n"}},
		{"leap day", []string{"--check", "--from", "2027-03-01T00:00:00Z", "--count", "2", "CRON_TZ=UTC 0 0 12 29 2 *", "--", "touch", "MARK"}, nil, 0,
			[]string{"go-cron:   2028-02-29T12:00:00Z Tue\n", "go-cron:   2032-02-29T12:00:00Z Sun\n"}},
		{"quartz L", []string{"--check", "0 0 L * *", "--", "touch", "MARK"}, nil, 2,
			[]string{`field day-of-month "L": L (last day) is Quartz syntax that go-cron does not support`}},
		{"bad fields", []string{"--check", "@hourly", "--", "touch", "MARK"}, []string{"GOCRON_FIELDS=minutes"}, 2, []string{`GOCRON_FIELDS="minutes"`, "standard", "seconds"}},
		{"bad from", []string{"--check", "--from", "yesterday", "@hourly", "--", "touch", "MARK"}, nil, 2, []string{`--from "yesterday"`, "RFC 3339"}},
		{"bad count", []string{"--check", "--count", "0", "@hourly", "--", "touch", "MARK"}, nil, 2, []string{`--count "0"`}},
		{"count without check", []string{"--count", "5", "@hourly", "--", "touch", "MARK"}, nil, 2, []string{"--count works with --check only"}},
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
				if stderr.Len() != 0 || !strings.HasPrefix(msg, "go-cron: ok: ") {
					t.Errorf("want an ok line on stdout and nothing on stderr: stdout %q stderr %q", msg, &stderr)
				}
				for _, l := range strings.SplitAfter(msg, "\n") {
					if l != "" && (!strings.HasPrefix(l, "go-cron: ") || !strings.HasSuffix(l, "\n")) {
						t.Errorf("line %q: want every line to start with go-cron:", l)
					}
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
