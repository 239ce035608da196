package lock

import (
	"time"

	"cronbox/go-cron/run"
)

// Slot states as stored in slot/<time> records.
const (
	StateRunning = "running"       // claimed; the holder's lease is (or was) alive
	StateDone    = run.OutcomeDone // ran to completion here or elsewhere; see ExitStatus
	StateLost    = run.OutcomeLost // the holder's lease expired mid-run: outcome unknown
	StateSkipped = "skipped"       // not run: another slot was still running
)

// Record is one slot's record (and, with State running, the value of
// current).
type Record struct {
	Slot       time.Time `json:"Slot"`
	State      string    `json:"State"`
	Instance   string    `json:"Instance"` // who claimed it; for skipped, who was running
	Reason     string    `json:"Reason,omitempty"`
	Lease      int64     `json:"Lease,omitempty"`
	Claimed    time.Time `json:"Claimed"`
	ExitStatus *int      `json:"Exit_status,omitempty"`
}

// slotName is the key suffix of a slot: fixed width, so that etcd's byte
// order is time order and a range delete can prune old records.
func slotName(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

type keys struct{ prefix, slots, current, holder, last string }

func keysFor(name string) keys {
	p := "/cronbox/go-cron/lock/" + name + "/"
	return keys{prefix: p, slots: p + "slot/", current: p + "current", holder: p + "holder", last: p + "last"}
}

func (k keys) slot(t time.Time) string { return k.slots + slotName(t) }

// tail keeps the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
