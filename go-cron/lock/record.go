package lock

import (
	"encoding/json"
	"time"
)

// Slot states as stored in slot/<time> records.
const (
	StateRunning = "running" // claimed; the holder's lease is (or was) alive
	StateDone    = "done"    // ran to completion here or elsewhere; see ExitStatus
	StateLost    = "lost"    // the holder's lease expired mid-run: outcome unknown
	StateSkipped = "skipped" // not run: another slot was still running
)

// Run is one finished run as every replica reports it: the seed's Last
// fields (same JSON names) plus where and for which slot it ran.
type Run struct {
	Instance     string    `json:"Instance"`
	Slot         time.Time `json:"Slot"`
	Outcome      string    `json:"Outcome"` // done or lost
	ExitStatus   int       `json:"Exit_status"`
	Signal       string    `json:"Signal,omitempty"`
	TimedOut     bool      `json:"TimedOut,omitempty"`
	Stopped      bool      `json:"Stopped,omitempty"`
	Error        string    `json:"Error,omitempty"`
	Stdout       string    `json:"Stdout"`
	Stderr       string    `json:"Stderr"`
	Pid          int       `json:"Pid"`
	StartingTime time.Time `json:"StartingTime"`
	ExitTime     time.Time `json:"ExitTime"`
	// Report is what the job wrote to GOCRON_RESULT_FILE (at most 64 KiB,
	// masked), so every replica shows the last good backup.
	Report json.RawMessage `json:"Report,omitempty"`
}

// OK reports whether the run succeeded.
func (r Run) OK() bool {
	return r.Outcome == StateDone && r.ExitStatus == 0 && r.Signal == "" && r.Error == ""
}

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
