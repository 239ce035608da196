// Package procmem keeps a tool's resident memory to what its work needs.
//
// In the image every tool is one name of the multicall binary, so each
// process runs the package inits of every tool (etcd's client, gRPC,
// protobuf registries, the S3 client, the notification services, ...)
// before its main, and the kernel maps in the code and data they touch
// 64 KB at a time (fault-around): about 13 of the binary's 17 MB, most of
// it never needed again by the tool that runs. ReleaseExecutable drops
// those mappings; the pages stay in the page cache, so those the tool goes
// on to use fault back cheaply. DefaultGCPercent sets a smaller heap goal
// than Go's default where a tool's heap is small beside its buffers.
package procmem

import "runtime/debug"

// DefaultGCPercent sets the garbage collector's goal to percent (the live
// heap plus percent per cent; Go's default is 100) unless GOGC is set in
// environ: the user's choice wins. It returns the percent it set, or -1.
func DefaultGCPercent(environ []string, percent int) int {
	for _, kv := range environ {
		if len(kv) > 5 && kv[:5] == "GOGC=" {
			return -1
		}
	}
	debug.SetGCPercent(percent)
	return percent
}
