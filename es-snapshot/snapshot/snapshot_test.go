package snapshot

import (
	"strings"
	"testing"
	"time"

	"cronbox/es-snapshot/esclient"
	"cronbox/retention"
)

func TestNamer(t *testing.T) {
	at := time.Date(2026, 11, 27, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	cases := []struct {
		pattern, name string
		want          string // the name at `at`; "" when NewNamer must refuse
		owns, notOwns []string
	}{
		{"", "nightly", "2026-11-27-02-04-05_nightly",
			[]string{"2015-01-03-13-36-30_nightly"},
			[]string{"2015-01-03-13-36-30_nightly2", "manual", "2015-01-03-13-36_nightly", "x2015-01-03-13-36-30_nightly"}},
		{"", "_", "2026-11-27-02-04-05__", []string{"2015-01-03-13-36-30__"}, []string{"2015-01-03-13-36-30_nightly"}},
		{"{name}-%Y%m%d.%H%M%S", "es.prod", "es.prod-20261127.020405", []string{"es.prod-20200101.000000"}, []string{"esxprod-20200101.000000"}},
		{"100%%-%Y", "x", "100%-2026", []string{"100%-1999"}, nil},
		{"", "Nightly", "", nil, nil},   // uppercase: the server would refuse it
		{"_%Y", "x", "", nil, nil},      // leading underscore
		{"%Y %m", "x", "", nil, nil},    // space
		{"%Y-%q", "x", "", nil, nil},    // unknown directive
		{"{name}", "a,b", "", nil, nil}, // comma splits names in the API
	}
	for _, c := range cases {
		n, err := NewNamer(c.pattern, c.name)
		if c.want == "" {
			if err == nil {
				t.Errorf("NewNamer(%q, %q) accepted", c.pattern, c.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewNamer(%q, %q): %v", c.pattern, c.name, err)
			continue
		}
		if got := n.Name(at); got != c.want {
			t.Errorf("Name = %q, want %q", got, c.want)
		}
		if !n.Owns(n.Name(at)) {
			t.Errorf("%q does not own its own name %q", c.pattern, n.Name(at))
		}
		for _, s := range c.owns {
			if !n.Owns(s) {
				t.Errorf("%q should own %q", c.pattern, s)
			}
		}
		for _, s := range c.notOwns {
			if n.Owns(s) {
				t.Errorf("%q should not own %q", c.pattern, s)
			}
		}
	}
}

func snap(name, state string, ageHours int, now time.Time) esclient.Snapshot {
	s := esclient.Snapshot{Name: name, State: state, StartTimeMillis: now.Add(-time.Duration(ageHours) * time.Hour).UnixMilli()}
	if state == esclient.StateSuccess {
		s.Shards = esclient.ShardCounts{Total: 1, Successful: 1}
	}
	if state == esclient.StatePartial {
		s.Shards = esclient.ShardCounts{Total: 2, Successful: 1, Failed: 1}
	}
	return s
}

func TestPlan(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	mine := func(s string) bool { return strings.HasPrefix(s, "m-") }
	S, P, F, R := esclient.StateSuccess, esclient.StatePartial, esclient.StateFailed, esclient.StateInProgress
	cases := []struct {
		name   string
		snaps  []esclient.Snapshot
		policy Policy
		delete []string
	}{
		{"keep last 2", []esclient.Snapshot{snap("m-1", S, 4, now), snap("m-2", S, 3, now), snap("m-3", S, 2, now), snap("m-4", S, 1, now)},
			Policy{KeepLast: 2, MinKeep: 1}, []string{"m-2", "m-1"}},
		{"max age spares the newest good one even when all are old",
			[]esclient.Snapshot{snap("m-1", S, 100, now), snap("m-2", S, 90, now)},
			Policy{MaxAge: time.Hour, MinKeep: 1}, []string{"m-1"}},
		{"min keep 3 overrides keep last 1",
			[]esclient.Snapshot{snap("m-1", S, 4, now), snap("m-2", S, 3, now), snap("m-3", S, 2, now), snap("m-4", S, 1, now)},
			Policy{KeepLast: 1, MinKeep: 3}, []string{"m-1"}},
		{"a newer PARTIAL never counts as the kept backup",
			[]esclient.Snapshot{snap("m-old", S, 50, now), snap("m-new", P, 1, now)},
			Policy{MaxAge: time.Hour, MinKeep: 1}, nil},
		{"PARTIAL and FAILED older than a good one go",
			[]esclient.Snapshot{snap("m-f", F, 5, now), snap("m-p", P, 3, now), snap("m-ok", S, 1, now)},
			Policy{KeepLast: 5, MinKeep: 1}, []string{"m-p", "m-f"}},
		{"other names and running snapshots are never touched",
			[]esclient.Snapshot{snap("manual", S, 500, now), snap("m-run", R, 600, now), snap("m-1", S, 400, now), snap("m-2", S, 1, now)},
			Policy{KeepLast: 1, MinKeep: 1}, []string{"m-1"}},
		{"nothing good at all: only the age rule deletes",
			[]esclient.Snapshot{snap("m-f1", F, 100, now), snap("m-f2", F, 1, now)},
			Policy{MaxAge: 24 * time.Hour, MinKeep: 1}, []string{"m-f1"}},
		{"both rules: whichever says delete",
			[]esclient.Snapshot{snap("m-1", S, 100, now), snap("m-2", S, 3, now), snap("m-3", S, 2, now), snap("m-4", S, 1, now)},
			Policy{KeepLast: 3, MaxAge: 48 * time.Hour, MinKeep: 1}, []string{"m-1"}},
		// Tiers: snapshots every 12 hours for 4 days (ages 1, 13, 25, ... hours).
		{"daily 2: the newest good one of each of the last two days",
			[]esclient.Snapshot{snap("m-1", S, 1, now), snap("m-2", S, 13, now), snap("m-3", S, 25, now), snap("m-4", S, 37, now), snap("m-5", S, 49, now)},
			Policy{Tiers: retention.Policy{Daily: 2}, MinKeep: 1}, []string{"m-3", "m-4", "m-5"}},
		{"a FAILED snapshot takes no daily slot (and stays until a newer good one)",
			[]esclient.Snapshot{snap("m-1", F, 1, now), snap("m-2", S, 13, now), snap("m-3", S, 25, now), snap("m-4", S, 37, now)},
			Policy{Tiers: retention.Policy{Daily: 1}, MinKeep: 1}, []string{"m-3", "m-4"}},
		{"keep-last 1 and weekly all: the union",
			[]esclient.Snapshot{snap("m-1", S, 1, now), snap("m-2", S, 24*3, now), snap("m-3", S, 24*8, now), snap("m-4", S, 24*9, now)},
			Policy{KeepLast: 1, Tiers: retention.Policy{Weekly: -1}, MinKeep: 1}, []string{"m-2"}},
		{"max-age caps the tiers, min-keep caps max-age",
			[]esclient.Snapshot{snap("m-1", S, 1, now), snap("m-2", S, 30, now), snap("m-3", S, 60, now)},
			Policy{Tiers: retention.Policy{Daily: 5}, MaxAge: 36 * time.Hour, MinKeep: 1}, []string{"m-3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.policy.Check(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range Plan(c.snaps, mine, c.policy, now) {
				if d.Why == "" {
					t.Errorf("%s: no reason given", d.Snapshot.Name)
				}
				if d.Delete {
					got = append(got, d.Snapshot.Name)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.delete, ",") {
				t.Fatalf("deleted %v, want %v", got, c.delete)
			}
		})
	}
}

func TestPolicyCheck(t *testing.T) {
	for _, p := range []Policy{
		{KeepLast: 3, MinKeep: 0},
		{KeepLast: 0, MaxAge: 0, MinKeep: 1},
		{KeepLast: -1, MinKeep: 1},
		{MaxAge: -time.Hour, MinKeep: 1},
		{Tiers: retention.Policy{Daily: -2}, MinKeep: 1},
	} {
		if p.Check() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

func TestSameRepository(t *testing.T) {
	stored := esclient.Repository{Type: "s3", Settings: map[string]any{"bucket": "b", "compress": "true", "chunk_size": "5mb"}}
	cases := []struct {
		want esclient.Repository
		same bool
	}{
		{esclient.Repository{Type: "s3", Settings: map[string]any{"bucket": "b", "compress": true, "chunk_size": "5mb"}}, true},
		{esclient.Repository{Type: "s3", Settings: map[string]any{"bucket": "b", "compress": false, "chunk_size": "5mb"}}, false},
		{esclient.Repository{Type: "s3", Settings: map[string]any{"bucket": "b"}}, false},
		{esclient.Repository{Type: "fs", Settings: map[string]any{"bucket": "b", "compress": true, "chunk_size": "5mb"}}, false},
	}
	for i, c := range cases {
		if got := SameRepository(stored, c.want); got != c.same {
			t.Errorf("case %d: SameRepository = %v, want %v", i, got, c.same)
		}
	}
	nested := esclient.Repository{Type: "fs", Settings: map[string]any{"location": "/r", "max_restore_bytes_per_sec": float64(40)}}
	flat := esclient.Repository{Type: "fs", Settings: map[string]any{"location": "/r", "max_restore_bytes_per_sec": "40"}}
	if !SameRepository(flat, nested) {
		t.Error("40 and \"40\" differ")
	}
}
