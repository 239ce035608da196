package run

import "time"

// Outcomes of a Record.
const (
	OutcomeDone = "done" // it ran to its end, here or on another replica
	OutcomeLost = "lost" // its replica stopped renewing the lock's lease mid-run: result unknown
)

// Record is a finished run as every replica of a --lock-etcd job sees it:
// the Result, the replica that ran it and the slot it ran for. It is the
// one shape a run has from the job to the status port: the lock stores its
// JSON in etcd (replicas of other versions read it there), and the status
// port shows it under Last.
type Record struct {
	Instance string    `json:"Instance"`
	Slot     time.Time `json:"Slot"`
	Outcome  string    `json:"Outcome"` // OutcomeDone or OutcomeLost
	Result
}

// OK reports whether the run succeeded.
func (r Record) OK() bool { return r.Outcome != OutcomeLost && r.Result.OK() }
