package retention

import (
	"strings"
	"testing"
	"time"
)

func ts(s ...string) []time.Time {
	var out []time.Time
	for _, x := range s {
		t, err := time.Parse("2006-01-02 15:04", x)
		if err != nil {
			panic(err)
		}
		out = append(out, t)
	}
	return out
}

func kept(p Policy, times []time.Time) string {
	var s []string
	for i, r := range p.Keep(times) {
		if r != nil {
			s = append(s, times[i].Format("01-02 15:04")+" ("+strings.Join(r, "; ")+")")
		}
	}
	return strings.Join(s, ", ")
}

// The cases follow restic's forget semantics (its documentation's
// examples, read against restic's ApplyPolicy).
func TestKeep(t *testing.T) {
	// Newest first: two a day for four days, in one ISO week (Mon 23 - Thu 26 Nov 2026).
	week := ts("2026-11-26 18:00", "2026-11-26 06:00", "2026-11-25 18:00", "2026-11-25 06:00",
		"2026-11-24 18:00", "2026-11-24 06:00", "2026-11-23 18:00", "2026-11-23 06:00")
	for _, tc := range []struct {
		name string
		p    Policy
		want string
	}{
		{"last 2", Policy{Last: 2}, "11-26 18:00 (last), 11-26 06:00 (last)"},
		{"daily 2: the newest of each of the last two days", Policy{Daily: 2}, "11-26 18:00 (daily 2026-11-26), 11-25 18:00 (daily 2026-11-25)"},
		{"daily 10: counts left, so the oldest stays too", Policy{Daily: 10},
			"11-26 18:00 (daily 2026-11-26), 11-25 18:00 (daily 2026-11-25), 11-24 18:00 (daily 2026-11-24), 11-23 18:00 (daily 2026-11-23), 11-23 06:00 (oldest, daily has room)"},
		{"daily all", Policy{Daily: -1},
			"11-26 18:00 (daily 2026-11-26), 11-25 18:00 (daily 2026-11-25), 11-24 18:00 (daily 2026-11-24), 11-23 18:00 (daily 2026-11-23), 11-23 06:00 (oldest, daily has room)"},
		{"weekly 1", Policy{Weekly: 1}, "11-26 18:00 (weekly 2026-W48)"},
		{"last 1 + daily 2 overlap", Policy{Last: 1, Daily: 2}, "11-26 18:00 (last; daily 2026-11-26), 11-25 18:00 (daily 2026-11-25)"},
		{"hourly 3", Policy{Hourly: 3}, "11-26 18:00 (hourly 2026-11-26T18), 11-26 06:00 (hourly 2026-11-26T06), 11-25 18:00 (hourly 2026-11-25T18)"},
		{"none", Policy{}, ""},
	} {
		if got := kept(tc.p, week); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// Months and years, and ISO weeks across a year's end.
	long := ts("2027-01-02 00:00", "2026-12-30 00:00", "2026-12-01 00:00", "2026-11-15 00:00", "2025-06-01 00:00")
	if got, want := kept(Policy{Monthly: 2, Yearly: 2}, long), "01-02 00:00 (monthly 2027-01; yearly 2027), 12-30 00:00 (monthly 2026-12; yearly 2026)"; got != want {
		t.Errorf("monthly 2 yearly 2:\n got %s\nwant %s", got, want)
	}
	// 2027-01-02 and 2026-12-30 are both in ISO week 2026-W53.
	if got, want := kept(Policy{Weekly: 2}, long), "01-02 00:00 (weekly 2026-W53), 12-01 00:00 (weekly 2026-W49)"; got != want {
		t.Errorf("weekly 2:\n got %s\nwant %s", got, want)
	}
	// Periods are UTC whatever the times' zone.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	z := []time.Time{time.Date(2026, 11, 27, 0, 30, 0, 0, berlin), time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)}
	if got := (Policy{Daily: 5}).Keep(z); len(got[0]) != 1 || got[0][0] != "daily 2026-11-26" || len(got[1]) != 1 || got[1][0] != "oldest, daily has room" {
		t.Errorf("UTC days: %v", got)
	}
}

func TestCheckAndString(t *testing.T) {
	if err := (Policy{Daily: -2}).Check(); err == nil || !strings.Contains(err.Error(), "keep-daily") {
		t.Errorf("Check: %v", err)
	}
	if err := (Policy{Last: -1}).Check(); err == nil || !strings.Contains(err.Error(), "keep-last") {
		t.Errorf("keep-last -1: %v", err)
	}
	if err := (Policy{Daily: -1, Last: 3}).Check(); err != nil {
		t.Error(err)
	}
	if s := (Policy{Last: 3, Weekly: -1}).String(); s != "last 3, weekly all" {
		t.Errorf("String: %q", s)
	}
	if !(Policy{}).Empty() || (Policy{Yearly: 1}).Empty() {
		t.Error("Empty")
	}
}
