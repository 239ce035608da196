package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	base := time.Date(2026, 11, 27, 13, 36, 25, 500, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec string
		form string
		next []time.Time
	}{
		// Seconds first: every 10 seconds, not every 10 minutes (supercronic's reading).
		{"0/10 * * * * *", "6 fields", []time.Time{at(13, 36, 30), at(13, 36, 40), at(13, 36, 50)}},
		{"*/5 * * * *", "5 fields", []time.Time{at(13, 40, 0), at(13, 45, 0), at(13, 50, 0)}},
		{"@hourly", "descriptor @hourly", []time.Time{at(14, 0, 0), at(15, 0, 0), at(16, 0, 0)}},
		{"@every 10s", "descriptor @every", []time.Time{at(13, 36, 35), at(13, 36, 45), at(13, 36, 55)}},
		// 02:00 Berlin is 01:00 UTC in winter.
		{"CRON_TZ=Europe/Berlin 0 0 2 * * *", "6 fields", []time.Time{time.Date(2026, 11, 28, 2, 0, 0, 0, berlin)}},
		{"TZ=Europe/Berlin 0 2 * * *", "5 fields", []time.Time{time.Date(2026, 11, 28, 2, 0, 0, 0, berlin)}},
		{"TZ=Europe/Berlin @daily", "descriptor @daily", []time.Time{time.Date(2026, 11, 28, 0, 0, 0, 0, berlin)}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := Parse(tc.spec, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s.Form, tc.form) {
				t.Errorf("form %q, want %q...", s.Form, tc.form)
			}
			got := NextN(s, base, len(tc.next))
			for i := range tc.next {
				if !got[i].Equal(tc.next[i]) {
					t.Errorf("fire %d: %s, want %s", i, got[i], tc.next[i])
				}
			}
		})
	}
}

func at(h, m, s int) time.Time { return time.Date(2026, 11, 27, h, m, s, 0, time.UTC) }

func TestParseErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		spec, field, value, text string
	}{
		{"0 70 * * * *", "minutes", "70", "above maximum"},
		{"61 * * * * *", "seconds", "61", "above maximum"},
		{"* 25 * * *", "hours", "25", "above maximum"},
		{"* * * 0 * *", "day-of-month", "0", "below minimum"},
		{"* * * * 13 *", "month", "13", "above maximum"},
		{"* * * * * funday", "day-of-week", "funday", ""},
		{"CRON_TZ=Mars/Olympus * * * * *", "time zone", "Mars/Olympus", ""},
		{"TZ=UTC", "", "", "empty schedule"}, // cron/v3 panics on this one
		{"* * * *", "", "", "found 4"},
		{"@fortnightly", "", "", "unrecognized descriptor"},
		{"0 0 30 2 *", "", "", "never fires"},
		{"", "", "", "empty schedule"},
		{"@every -5s", "", "", "-5s: the interval must be positive"},
		{"@every 0s", "", "", "0s: the interval must be positive"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := Parse(tc.spec, time.UTC)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if se.Field != tc.field || se.Value != tc.value {
				t.Errorf("field %q value %q, want %q %q (%v)", se.Field, se.Value, tc.field, tc.value, err)
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("message %q lacks %q or the field name", err, tc.text)
			}
		})
	}
}
