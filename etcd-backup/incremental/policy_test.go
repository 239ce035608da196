package incremental

import (
	"strings"
	"testing"
	"time"

	"cronbox/etcd-backup/chain"
	"cronbox/go-cron/schedule"
)

type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// Each rule of the full-snapshot policy, alone, and none when none is due.
func TestPolicy(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 20, 0, 0, time.UTC)
	cs := state{full: &chain.Full{Name: "f.db", Time: t0, Size: 1000}, path: chain.Path{Deltas: []chain.Delta{{Size: 300}, {Size: 300}}}}
	hourly, err := schedule.Parse("0 0 * * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    Policy
		now  time.Time
		want string
	}{
		{Policy{}, t0.Add(24 * time.Hour), ""},
		{Policy{AfterDeltas: 3}, t0, ""},
		{Policy{AfterDeltas: 2}, t0, "the chain has 2 deltas"},
		{Policy{AfterBytes: 601}, t0, ""},
		{Policy{AfterBytes: 600}, t0, "store 600 bytes"},
		{Policy{AfterPercent: 61}, t0, ""},
		{Policy{AfterPercent: 60}, t0, "60% of the full snapshot's 1000"},
		{Policy{Every: every(time.Hour)}, t0.Add(59 * time.Minute), ""},
		{Policy{Every: every(time.Hour)}, t0.Add(time.Hour), "due at 2026-12-01T11:20:00Z"},
		{Policy{Every: hourly}, t0.Add(39 * time.Minute), ""},
		{Policy{Every: hourly}, t0.Add(40 * time.Minute), "due at 2026-12-01T11:00:00Z"},
	} {
		got := (&Saver{Policy: tc.p}).policy(cs, tc.now)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v at %s: %q, want %q", tc.p, tc.now.Format("15:04"), got, tc.want)
		}
	}
}

func TestAtLeast35(t *testing.T) {
	for v, want := range map[string]bool{"3.4.23": false, "3.5.0": true, "3.7.3": true, "4.0.0": true, "": false, "x": false} {
		if atLeast35(v) != want {
			t.Errorf("%q: %v", v, !want)
		}
	}
}
