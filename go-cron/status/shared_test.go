package status

import (
	"strings"
	"testing"
	"time"

	"cronbox/go-cron/run"
)

// With --lock-etcd the shared last run (wherever it ran) decides Last and the
// HTTP code, and an unreachable etcd (failing closed) answers 503 with why.
func TestSharedStateDecides(t *testing.T) {
	local := run.Result{Pid: 10, Start: t0, End: t0.Add(time.Second), Stdout: "local\n"}
	elsewhere := func(exit int) *run.Record {
		return &run.Record{Result: run.Result{Pid: 77, Start: t0.Add(time.Minute), End: t0.Add(time.Minute + time.Second), ExitStatus: exit, Stdout: "remote\n"},
			Instance: "pod-b", Slot: t0.Add(time.Minute), Outcome: "done"}
	}
	lost := &run.Record{Result: run.Result{Start: t0.Add(2 * time.Minute), End: t0.Add(3 * time.Minute), ExitStatus: -1,
		Error: "instance pod-c stopped renewing its lease while running; outcome unknown"}, Instance: "pod-c", Slot: t0.Add(2 * time.Minute), Outcome: "lost"}
	for _, tc := range []struct {
		name     string
		shared   Shared
		code     int
		health   string // substring
		lastFrom string // Last.Instance
		result   string
	}{
		{"remote success", Shared{Reachable: true, Last: elsewhere(0)}, 200, "ok", "pod-b", "success"},
		{"remote failure", Shared{Reachable: true, Last: elsewhere(3)}, 503, "exit status 3", "pod-b", "failure"},
		{"holder lost mid-run", Shared{Reachable: true, Last: lost}, 503, "outcome unknown", "pod-c", "lost"},
		{"no slot finished yet", Shared{Reachable: true}, 200, "ok", "", "success"},
		{"etcd unreachable", Shared{Last: elsewhere(0)}, 503, "fail-closed", "pod-b", "success"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{Schedule: "* * * * * *", Now: func() time.Time { return t0.Add(time.Hour) }})
			s.Finished(local)
			s.SetShared(tc.shared)
			problem := ""
			if !tc.shared.Reachable {
				problem = "not running (fail-closed): etcd down"
			}
			s.SetSection("Lock", map[string]string{"Name": "n"}, problem)
			code, m, _ := get(t, s, "/")
			if code != tc.code || !strings.Contains(m["Health"].(string), tc.health) {
				t.Errorf("code %d health %q; want %d and %q", code, m["Health"], tc.code, tc.health)
			}
			last := m["Last"].(map[string]any)
			if got, _ := last["Instance"].(string); got != tc.lastFrom {
				t.Errorf("Last.Instance %q, want %q", got, tc.lastFrom)
			}
			if tc.lastFrom == "" && last["Stdout"] != "local\n" {
				t.Errorf("without a shared run, Last should be the local one: %v", last)
			}
			if got := last["Result"]; got != tc.result {
				t.Errorf("Last.Result %v, want %s", got, tc.result)
			}
			for _, k := range []string{"Exit_status", "Stdout", "Stderr", "ExitTime", "Pid", "StartingTime"} {
				if _, ok := last[k]; !ok {
					t.Errorf("Last lacks the seed key %s", k)
				}
			}
			if m["Lock"] == nil {
				t.Error("no Lock key")
			}
			_, _, metrics := get(t, s, "/metrics")
			want := "gocron_lock_etcd_reachable 0"
			if tc.shared.Reachable {
				want = "gocron_lock_etcd_reachable 1"
			}
			if !strings.Contains(metrics, want) || !strings.Contains(metrics, `gocron_skipped_total{reason="held"} 0`) {
				t.Errorf("metrics lack %q or the held counter:\n%s", want, metrics)
			}
		})
	}
}

// Freshness counts a success on another replica.
func TestSharedSuccessIsFresh(t *testing.T) {
	now := t0.Add(2 * time.Hour)
	s := New(Config{Schedule: "@hourly", MaxAge: 90 * time.Minute, Now: func() time.Time { return now }})
	s.Scheduled(t0)
	if code, _, _ := get(t, s, "/"); code != 503 {
		t.Fatalf("never ran anywhere, past max age: %d", code)
	}
	s.SetShared(Shared{Reachable: true, Last: &run.Record{Result: run.Result{Pid: 5, Start: now.Add(-time.Hour), End: now.Add(-time.Hour)}, Instance: "pod-b", Outcome: "done"}})
	if code, m, _ := get(t, s, "/"); code != 200 {
		t.Errorf("success on another replica an hour ago, max age 90m: %d %v", code, m["Health"])
	}
}
