package schedule

import (
	"strings"
	"testing"
	"time"
)

// base is the instant the pinned tables count from.
var base = time.Date(2026, 11, 27, 13, 36, 25, 0, time.UTC)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func checkNext(t *testing.T, s *Schedule, from time.Time, want []string) {
	t.Helper()
	got := NextN(s, from, len(want))
	if len(got) != len(want) {
		t.Fatalf("%q: %d fire times, want %d", s.Text, len(got), len(want))
	}
	for i, w := range want {
		if !got[i].Equal(utc(w)) {
			t.Errorf("%q fire %d: %s, want %s", s.Text, i, got[i].UTC().Format(time.RFC3339), w)
		}
	}
}

// The original go-cron read five fields seconds first, day-of-week *:
// values observed from odise/go-cron built with robfig/cron at b024fc5 (its
// last 2014 state before five fields became minute first), from the base
// instant, TZ=UTC. GOCRON_FIELDS=seconds gives the same times; the default
// reading does not.
func TestOriginalFiveFieldReading(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []string
	}{
		{"*/5 * * * *", []string{"2026-11-27T13:36:30Z", "2026-11-27T13:36:35Z", "2026-11-27T13:36:40Z", "2026-11-27T13:36:45Z"}},
		{"0 * * * *", []string{"2026-11-27T13:37:00Z", "2026-11-27T13:38:00Z", "2026-11-27T13:39:00Z", "2026-11-27T13:40:00Z"}},
		{"30 2 * * *", []string{"2026-11-27T14:02:30Z", "2026-11-27T15:02:30Z", "2026-11-27T16:02:30Z", "2026-11-27T17:02:30Z"}},
		{"0 0 * * *", []string{"2026-11-27T14:00:00Z", "2026-11-27T15:00:00Z", "2026-11-27T16:00:00Z", "2026-11-27T17:00:00Z"}},
		{"0 0 1 * *", []string{"2026-11-28T01:00:00Z", "2026-11-29T01:00:00Z", "2026-11-30T01:00:00Z", "2026-12-01T01:00:00Z"}},
		{"15 10 * * *", []string{"2026-11-27T14:10:15Z", "2026-11-27T15:10:15Z", "2026-11-27T16:10:15Z", "2026-11-27T17:10:15Z"}},
		{"0 */2 * * *", []string{"2026-11-27T13:38:00Z", "2026-11-27T13:40:00Z", "2026-11-27T13:42:00Z", "2026-11-27T13:44:00Z"}},
		{"0 0 * * 7", []string{"2027-07-01T00:00:00Z", "2027-07-01T01:00:00Z", "2027-07-01T02:00:00Z", "2027-07-01T03:00:00Z"}}, // the fifth field is the month
		{"0 0 12 * *", []string{"2026-11-28T12:00:00Z", "2026-11-29T12:00:00Z", "2026-11-30T12:00:00Z", "2026-12-01T12:00:00Z"}},
		{"0 0 ? * *", []string{"2026-11-27T14:00:00Z", "2026-11-27T15:00:00Z", "2026-11-27T16:00:00Z", "2026-11-27T17:00:00Z"}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := ParseWith(tc.spec, Options{Location: time.UTC, Fields: Seconds})
			if err != nil {
				t.Fatal(err)
			}
			checkNext(t, s, base, tc.want)
			if !strings.Contains(s.Form, "seconds first") || s.FiveFields == nil || s.FiveFields.Fields != Standard {
				t.Errorf("form %q, alternative %+v", s.Form, s.FiveFields)
			}
			std, err := Parse(tc.spec, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if std.Next(base).Equal(utc(tc.want[0])) {
				t.Errorf("the standard reading fires at the original's time %s", tc.want[0])
			}
		})
	}
	// The original refused a month 0; so does the seconds reading.
	if _, err := ParseWith("0 0 * * 0", Options{Location: time.UTC, Fields: Seconds}); err == nil || !strings.Contains(err.Error(), "field month") {
		t.Errorf("seconds reading of %q: %v, want a month error", "0 0 * * 0", err)
	}
}

// The standard reading, with the times croniter 7.0.0 gives from the base
// instant (croniter_test.go asks croniter itself for these and more).
func TestStandardReading(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []string
	}{
		{"*/5 * * * *", []string{"2026-11-27T13:40:00Z", "2026-11-27T13:45:00Z", "2026-11-27T13:50:00Z"}},
		// 7 is Sunday, as 0 is.
		{"0 0 * * 7", []string{"2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z"}},
		{"0 0 * * 5-7", []string{"2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z", "2026-12-04T00:00:00Z", "2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z", "2026-12-11T00:00:00Z"}},
		// ? is *.
		{"0 0 ? * *", []string{"2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z", "2026-11-30T00:00:00Z"}},
	} {
		s, err := Parse(tc.spec, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		checkNext(t, s, base, tc.want)
	}
}

func TestSevenIsSunday(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"0 0 * * 7", "0 0 * * 0"},
		{"0 0 * * 5-7", "0 0 * * 0,5,6"},
		{"0 0 * * 1-7/2", "0 0 * * 1,3,5,0"},
		{"0 0 * * 7,3", "0 0 * * 0,3"},
		{"0 0 0 * * 7", "0 0 0 * * SUN"},
		{"0 0 * * 0-7", "0 0 * * *"},
		{"0 0 * * 6/1", "0 0 * * 6,0"},
	} {
		a, err := Parse(tc.a, time.UTC)
		if err != nil {
			t.Fatalf("%q: %v", tc.a, err)
		}
		b, err := Parse(tc.b, time.UTC)
		if err != nil {
			t.Fatalf("%q: %v", tc.b, err)
		}
		ga, gb := NextN(a, base, 10), NextN(b, base, 10)
		for i := range gb {
			if !ga[i].Equal(gb[i]) {
				t.Errorf("%q fire %d: %s, but %q: %s", tc.a, i, ga[i], tc.b, gb[i])
			}
		}
	}
}

func TestQuartzSyntaxRefused(t *testing.T) {
	for _, tc := range []struct{ spec, field, value, says string }{
		{"0 0 L * *", "day-of-month", "L", "L (last day) is Quartz syntax that go-cron does not support"},
		{"0 0 * * 5L", "day-of-week", "5L", "L (last day)"},
		{"0 0 15W * *", "day-of-month", "15W", "W (nearest weekday)"},
		{"0 0 LW * *", "day-of-month", "LW", "LW (last weekday"},
		{"0 0 * * 1#2", "day-of-week", "1#2", "# (nth weekday of the month)"},
		{"0 0 0 L * *", "day-of-month", "L", "not support"},
		{"0 0 * * 8", "day-of-week", "8", "above maximum (7; 0 and 7 are Sunday)"},
		// A zone inside the fields made cron/v3 panic (found by FuzzSchedule).
		{"0 0 1 1 TZ=0", "day-of-week", "TZ=0", "goes before the fields"},
		{"0 CRON_TZ=UTC * * * *", "minutes", "CRON_TZ=UTC", "goes before the fields"},
	} {
		_, err := Parse(tc.spec, time.UTC)
		se, ok := err.(*Error)
		if !ok {
			t.Fatalf("%q: %v, want *Error", tc.spec, err)
		}
		if se.Field != tc.field || se.Value != tc.value || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: %v; want field %s %q saying %q", tc.spec, err, tc.field, tc.value, tc.says)
		}
		if strings.Contains(err.Error(), "strconv") {
			t.Errorf("%q: raw parser text in %v", tc.spec, err)
		}
	}
	// Names that hold an L or a W are names.
	for _, spec := range []string{"0 0 1 JUL WED", "0 0 * APR,JUL MON-FRI", "0 0 * * sat"} {
		if _, err := Parse(spec, time.UTC); err != nil {
			t.Errorf("%q: %v", spec, err)
		}
	}
}

func TestWords(t *testing.T) {
	for _, tc := range []struct {
		spec   string
		fields Fields
		words  string
		other  string
	}{
		{"*/5 * * * *", Standard, "at second 0 of every 5th minute", `the original go-cron read 5 fields seconds first (every 5th second): for that, write "*/5 * * * * *" or set GOCRON_FIELDS=seconds`},
		{"*/5 * * * *", Seconds, "every 5th second", `standard cron reads 5 fields minute first (at second 0 of every 5th minute): for that, write "0 */5 * * * *" or unset GOCRON_FIELDS`},
		{"30 2 * * *", Standard, "at 02:30:00 every day", `(at second 30 of minute 2 of every hour)`},
		{"0 0 * * 7", Standard, "at 00:00:00 on Sunday", "(at second 0 of minute 0 of every hour in July)"},
		{"0 0 ? * MON-FRI", Standard, "at 00:00:00 on Monday through Friday", "not valid in that reading"},
		{"0 0 1,15 * 1", Standard, "at 00:00:00 on day-of-month 1 and 15 or on Monday", ""},
		{"0 0 */2 * * *", Standard, "at second 0 of minute 0 of every 2nd hour", ""},
		{"0/10 * * * * *", Standard, "every 10th second from 0", ""},
		{"0 30 2 * * *", Standard, "at 02:30:00 every day", ""},
		{"0 0 0 1 */3 *", Standard, "at 00:00:00 on day-of-month 1 in every 3rd month", ""},
		{"CRON_TZ=Europe/Berlin 30 2 * * *", Standard, "at 02:30:00 every day", `write "CRON_TZ=Europe/Berlin 30 2 * * * *" or set`},
		{"TZ=UTC */5 * * * *", Seconds, "every 5th second", `write "TZ=UTC 0 */5 * * * *" or unset`},
		{"@weekly", Standard, "at 00:00:00 on Sunday", ""},
		{"@hourly", Standard, "at second 0 of minute 0 of every hour", ""},
	} {
		s, err := ParseWith(tc.spec, Options{Location: time.UTC, Fields: tc.fields})
		if err != nil {
			t.Fatal(err)
		}
		if s.Words != tc.words {
			t.Errorf("%q (%s): words %q, want %q", tc.spec, tc.fields, s.Words, tc.words)
		}
		if !strings.Contains(s.Other(), tc.other) || (s.FiveFields != nil) != (s.Other() != "") || (s.FiveFields != nil) != strings.HasPrefix(s.Form, "5 fields") {
			t.Errorf("%q (%s): other %q, want %q", tc.spec, tc.fields, s.Other(), tc.other)
		}
	}
}

func TestParseFields(t *testing.T) {
	for in, want := range map[string]Fields{"": Standard, "standard": Standard, "seconds": Seconds, "SECONDS": Seconds} {
		if got, err := ParseFields(in); err != nil || got != want {
			t.Errorf("ParseFields(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFields("minutes-ish"); err == nil || !strings.Contains(err.Error(), "standard") {
		t.Errorf("ParseFields(bad): %v", err)
	}
}
