package cli_test

import (
	"strings"
	"testing"
	"time"

	"cronbox/testkit"
)

// At start a five-field schedule is logged in one line: how it was read, in
// words, and what the other reading would mean and how to write it.
func TestStartLogsTheFiveFieldReading(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   []string
		as    string
		means string
		other string
	}{
		{"standard", nil, "5 fields, minute first (standard cron)", "at second 0 of every 5th minute",
			`the original go-cron read 5 fields seconds first (every 5th second): for that, write "*/5 * * * * *" or set GOCRON_FIELDS=seconds`},
		{"seconds", []string{"GOCRON_FIELDS=seconds"}, "5 fields, seconds first (the original go-cron's reading; day-of-week *)", "every 5th second",
			`standard cron reads 5 fields minute first (at second 0 of every 5th minute): for that, write "0 */5 * * * *" or unset GOCRON_FIELDS`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := start(t, options{env: tc.env}, "*/5 * * * *", "--", "true")
			var line map[string]any
			testkit.WaitFor(t, 20*time.Second, "the schedule line", func() error {
				for _, l := range g.logs() {
					if l["msg"] == "schedule read" {
						line = l
						return nil
					}
				}
				return testkit.ErrNotYet
			})
			if line["as"] != tc.as || line["means"] != tc.means || line["other_reading"] != tc.other {
				t.Errorf("schedule line %v; want as %q, means %q, other_reading %q", line, tc.as, tc.means, tc.other)
			}
			n := 0
			for _, l := range g.logs() {
				if s, _ := l["msg"].(string); strings.HasPrefix(s, "schedule") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d schedule lines, want one", n)
			}
		})
	}
	// Six fields have one reading: no other_reading.
	g := start(t, options{}, "0 */5 * * * *", "--", "true")
	testkit.WaitFor(t, 20*time.Second, "the schedule line", func() error {
		for _, l := range g.logs() {
			if l["msg"] == "schedule read" {
				if _, ok := l["other_reading"]; ok {
					t.Errorf("six fields logged another reading: %v", l)
				}
				return nil
			}
		}
		return testkit.ErrNotYet
	})
}
