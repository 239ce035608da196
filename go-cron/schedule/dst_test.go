package schedule

import (
	"strings"
	"testing"
	"time"
)

// Daylight saving follows cronie (man cron(8), "Daylight Saving Time and
// other time changes", and cron.c's wakeupKind cases): a fixed-time job
// (neither minute nor hour starts with '*') whose wall-clock time a change
// skips runs right after the change; in the hour a change repeats it runs
// once; wildcard jobs run on the wall clock as it comes, so an hourly job
// stays hourly through both changes. Offset changes over 3 hours are
// corrections: their skipped times are not made up.
//
// croniter 7.0.0 gives the same times, except in the repeated hour, where
// it runs a fixed-time job twice (2026-10-25T00:30Z and 01:30Z for
// "30 2 * * *" in Berlin); cronie, and go-cron, run it once.
func TestDaylightSaving(t *testing.T) {
	for _, tc := range []struct {
		name, zone, spec, from string
		want                   []string
		notes                  []string // the note of each fire time, in order ("" for none)
	}{
		// Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00Z).
		{"Berlin spring fixed", "Europe/Berlin", "30 2 * * *", "2026-03-28T00:00:00+01:00",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
			[]string{"", "for 02:30:00, which the change to CEST skips", ""}},
		{"Berlin spring fixed, six fields", "Europe/Berlin", "0 30 2 * * *", "2026-03-28T00:00:00+01:00",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}, nil},
		// Every slot of the skipped hour and the one at the change make one run.
		{"Berlin spring slots coalesce", "Europe/Berlin", "0,30 2,3 * * *", "2026-03-29T00:00:00+01:00",
			[]string{"2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:00:00Z"},
			[]string{"for 02:00:00, which the change to CEST skips", "", ""}},
		{"Berlin spring wildcard hour", "Europe/Berlin", "30 * * * *", "2026-03-29T00:00:00+01:00",
			[]string{"2026-03-28T23:30:00Z", "2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z", "2026-03-29T02:30:00Z"}, nil},
		// Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00Z).
		{"Berlin autumn fixed", "Europe/Berlin", "30 2 * * *", "2026-10-24T00:00:00+02:00",
			[]string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
			[]string{"", "02:30:00 comes again in CET: a fixed-time job runs the first time only", ""}},
		{"Berlin autumn wildcard hour", "Europe/Berlin", "30 * * * *", "2026-10-25T01:00:00+02:00",
			[]string{"2026-10-24T23:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z"},
			[]string{"", "02:30:00 comes again in CET: a wildcard job runs both times", "the repeated 02:30:00 in CET", ""}},
		{"Berlin autumn wildcard minute", "Europe/Berlin", "*/30 2 * * *", "2026-10-25T01:00:00+02:00",
			[]string{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:00:00Z"}, nil},
		// America/New_York, 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z).
		{"New York spring fixed", "America/New_York", "30 2 * * *", "2026-03-07T00:00:00-05:00",
			[]string{"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
			[]string{"", "for 02:30:00, which the change to EDT skips", ""}},
		{"New York spring hourly", "America/New_York", "0 * * * *", "2026-03-08T00:00:00-05:00",
			[]string{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}, nil},
		// America/New_York, 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00Z).
		{"New York autumn fixed", "America/New_York", "30 1 * * *", "2026-10-31T00:00:00-04:00",
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
			[]string{"", "01:30:00 comes again in EST", ""}},
		{"New York autumn hourly", "America/New_York", "@hourly", "2026-11-01T00:30:00-04:00",
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"}, nil},
		// Lord Howe Island moves by 30 minutes: 02:00 becomes 02:30 on 2026-10-04.
		{"Lord Howe half hour", "Australia/Lord_Howe", "15 2 * * *", "2026-10-03T00:00:00+10:30",
			[]string{"2026-10-02T15:45:00Z", "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}, nil},
		// Samoa skipped 2011-12-30 (UTC-10 to UTC+14): a correction, not made up.
		{"Apia skipped day", "Pacific/Apia", "30 12 * * *", "2011-12-29T00:00:00-10:00",
			[]string{"2011-12-29T22:30:00Z", "2011-12-30T22:30:00Z"}, []string{"", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseWith(tc.spec, Options{Location: loc})
			if err != nil {
				t.Fatal(err)
			}
			checkNext(t, s, utc(tc.from), tc.want)
			for i, n := range tc.notes {
				got := s.Note(utc(tc.want[i]))
				if (n == "") != (got == "") || !strings.Contains(got, n) {
					t.Errorf("note of %s: %q, want %q", tc.want[i], got, n)
				}
			}
		})
	}
}

// Past a zone's explicit transitions Go's ZoneBounds computed a period
// that ended before the instant asked about (Europe/Berlin on
// 2040-12-31T00:00Z); fire times there once looped forever.
func TestFarFutureZoneRule(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseWith("0 0 29 2 *", Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	got := NextN(s, utc("2026-03-28T20:00:00Z"), 12)
	if len(got) != 12 || !got[11].Equal(utc("2072-02-28T23:00:00Z")) {
		t.Errorf("leap days: %v", got)
	}
	s, err = ParseWith("30 2 * * *", Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	checkNext(t, s, utc("2041-03-29T20:00:00Z"), []string{"2041-03-30T01:30:00Z", "2041-03-31T01:00:00Z", "2041-04-01T00:30:00Z"})
	checkNext(t, s, utc("2040-12-30T20:00:00Z"), []string{"2040-12-31T01:30:00Z", "2041-01-01T01:30:00Z"})
}
