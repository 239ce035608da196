// Package idle keeps a long-lived, mostly idle process small, for go-cron
// as the container's PID 1.
//
// The multicall binary drops its mappings of the binary before any tool
// starts (clikit/procmem); go-cron's own start-up (flags, the lock, the
// notifier, the status server) maps some megabytes back that it will not
// use again. Settle, called once start-up is done, drops them again (the
// pages stay in the page cache, so the few the scheduler and the status
// port need fault back cheaply) and sets a small heap goal, so bursts of
// status requests do not leave megabytes of garbage resident.
package idle

import "cronbox/clikit/procmem"

// gcPercent is the heap goal go-cron uses unless GOGC is set: the live heap
// plus a quarter, at least 1 MB (the runtime's minimum scales with it;
// the default 100 lets 4 MB of garbage pile up between collections). go-cron
// allocates little, so the extra collections cost next to nothing.
const gcPercent = 25

// Result says what Settle did.
type Result struct {
	// Released is how many bytes of the executable's read-only mappings
	// were dropped (0 where the platform has no way to).
	Released int64
	// GCPercent is the GC percent set, or -1 when GOGC was left to rule.
	GCPercent int
}

// Settle sets the heap goal (unless GOGC is set in environ) and drops the
// process's mappings of its own code and read-only data. It changes nothing
// the process can observe but its memory use.
func Settle(environ []string) (Result, error) {
	r := Result{GCPercent: procmem.DefaultGCPercent(environ, gcPercent)}
	n, err := procmem.ReleaseExecutable()
	r.Released = n
	return r, err
}
