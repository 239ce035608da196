package lock

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"cronbox/go-cron/run"
)

// The last run's JSON in etcd is read by every replica, some of them still
// on an older go-cron during a rollout: run.Record must read what older
// versions wrote and write the same keys. These are the bytes go-cron wrote
// before the record had one type from the job to the status port.
func TestRecordJSONAsOlderReplicasWriteIt(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		old  string
		want run.Record
	}{
		{`{"Instance":"pod-a","Slot":"2026-01-02T03:04:05Z","Outcome":"done","Exit_status":3,"Signal":"SIGTERM","TimedOut":true,"Stopped":true,"Error":"e","Stdout":"o","Stderr":"x","Pid":7,"StartingTime":"2026-01-02T03:04:05Z","ExitTime":"2026-01-02T03:04:06Z","Report":{"size":1}}`,
			run.Record{Instance: "pod-a", Slot: t0, Outcome: StateDone, Result: run.Result{ExitStatus: 3, Signal: "SIGTERM", TimedOut: true, Stopped: true,
				Error: "e", Stdout: "o", Stderr: "x", Pid: 7, Start: t0, End: t0.Add(time.Second), Report: json.RawMessage(`{"size":1}`)}}},
		{`{"Instance":"pod-b","Slot":"2026-01-02T03:04:05Z","Outcome":"lost","Exit_status":-1,"Error":"lost","Stdout":"","Stderr":"","Pid":0,"StartingTime":"2026-01-02T03:04:05Z","ExitTime":"2026-01-02T03:05:05Z"}`,
			run.Record{Instance: "pod-b", Slot: t0, Outcome: StateLost, Result: run.Result{ExitStatus: -1, Error: "lost", Start: t0, End: t0.Add(time.Minute)}}},
	} {
		var got run.Record
		if err := json.Unmarshal([]byte(tc.old), &got); err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("read %s:\n got %+v, %v\nwant %+v", tc.old, got, err, tc.want)
		}
		tc.want.ReportError = "this replica's own business"
		b, err := json.Marshal(tc.want)
		var gotKeys, oldKeys map[string]any
		json.Unmarshal(b, &gotKeys)
		json.Unmarshal([]byte(tc.old), &oldKeys)
		if err != nil || !reflect.DeepEqual(gotKeys, oldKeys) {
			t.Errorf("wrote %s, want the keys and values of %s", b, tc.old)
		}
	}
}
