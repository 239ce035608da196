// Package idle keeps a long-lived, mostly idle process small, for go-cron
// as the container's PID 1.
//
// In the image go-cron is one name of the multicall binary, so at start it
// runs the package inits of every tool (etcd's client, gRPC, protobuf
// registries, the S3 client, ...), and the kernel maps in the code and data
// they touch 64 KB at a time (fault-around): about 11 MB of a 16 MB file,
// most of it never needed again. Settle, called once start-up is done,
// drops those mappings (the pages stay in the page cache, so the few the
// scheduler and the status port need fault back cheaply) and sets a small
// heap goal, so bursts of status requests do not leave megabytes of
// garbage resident.
package idle

import (
	"runtime/debug"
)

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
	r := Result{GCPercent: -1}
	if !gogcSet(environ) {
		debug.SetGCPercent(gcPercent)
		r.GCPercent = gcPercent
	}
	n, err := releaseExecutable()
	r.Released = n
	return r, err
}

func gogcSet(environ []string) bool {
	for _, kv := range environ {
		if len(kv) > 5 && kv[:5] == "GOGC=" {
			return true
		}
	}
	return false
}
