package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cronbox/go-cron/redact"
	"cronbox/jobresult"
	"cronbox/testkit"
)

// Each run gets its own empty GOCRON_RESULT_FILE; what the job writes there
// comes back masked in Result.Report, and the file is gone afterwards.
func TestResultFile(t *testing.T) {
	pats, _ := redact.ParsePatterns(redact.DefaultPatterns)
	red := redact.New([]string{"S3_SECRET=hunter2hunter2"}, pats)
	for _, tc := range []struct {
		name, script string
		report       string // exact
		reportErr    string // substring
		ok           bool
	}{
		{"written", `printf '{"location":"s3://b/k","size":3,"note":"hunter2hunter2"}' > "$GOCRON_RESULT_FILE"`,
			`{"location":"s3://b/k","note":"***","size":3}`, "", true},
		{"nothing written", `test -f "$GOCRON_RESULT_FILE" && test ! -s "$GOCRON_RESULT_FILE"`, "", "", true},
		{"written by a failed run", `echo '{"message":"half done"}' > "$GOCRON_RESULT_FILE"; exit 1`, `{"message":"half done"}`, "", false},
		{"not an object", `echo '[1,2]' > "$GOCRON_RESULT_FILE"`, "", "want one JSON object", true},
		{"removed by the job", `rm "$GOCRON_RESULT_FILE"`, "", "no such file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := cfg(tc.script)
			c.ResultDir, c.Redactor = dir, red
			c.Env = append(os.Environ(), jobresult.Env+"=/somewhere/else") // go-cron's own is overridden
			r := Run(context.Background(), c, nil)
			if r.OK() != tc.ok || string(r.Report) != tc.report || !strings.Contains(r.ReportError, tc.reportErr) || (tc.reportErr == "") != (r.ReportError == "") {
				t.Errorf("ok %v report %s error %q; stderr %q", r.OK(), r.Report, r.ReportError, r.Stderr)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
	c := cfg(`test -z "${GOCRON_RESULT_FILE:-}"`)
	if r := Run(context.Background(), c, nil); !r.OK() {
		t.Errorf("without ResultDir the job sees no GOCRON_RESULT_FILE: %+v", r)
	}
}

// A caller holding the Output reads the tails while the job runs.
func TestLiveOutput(t *testing.T) {
	release := filepath.Join(t.TempDir(), "release")
	pats, _ := redact.ParsePatterns(redact.DefaultPatterns)
	c := cfg(`echo "step 1 with hunter2hunter2"; echo warn >&2; while [ ! -e ` + release + ` ]; do sleep 0.02; done; echo step 2`)
	c.Redactor = redact.New([]string{"S3_SECRET=hunter2hunter2"}, pats)
	c.Output = NewOutput(c.Tail, c.Redactor)
	done := make(chan Result)
	go func() { done <- Run(context.Background(), c, nil) }()
	testkit.WaitFor(t, 10*time.Second, "the first lines", func() error {
		if out, errs := c.Output.Tails(); out != "step 1 with ***\n" || errs != "warn\n" {
			return testkit.ErrNotYet
		}
		return nil
	})
	before := c.Output.Written()
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Stdout != "step 1 with ***\nstep 2\n" || c.Output.Written() != before+7 {
		t.Errorf("stdout %q, written %d then %d", r.Stdout, before, c.Output.Written())
	}
}
