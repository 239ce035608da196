// Command cronbox is every cronbox tool linked into one binary, so the image
// carries one Go runtime, one net/http, one TLS and one gRPC instead of five.
// Each tool keeps its own module; this one only calls their cli.Main. The
// rootfs has a symlink per tool (go-cron -> cronbox, ...), and the binary runs
// the tool it was called as.
package main

import (
	"os"
	_ "time/tzdata" // CRON_TZ=Europe/Berlin must work in a rootfs without /usr/share/zoneinfo

	"cronbox/clikit/procmem"
	"cronbox/multicall/dispatch"

	envplate "cronbox/envplate/cli"
	essnapshot "cronbox/es-snapshot/cli"
	etcdbackup "cronbox/etcd-backup/cli"
	gocron "cronbox/go-cron/cli"
	gof3r "cronbox/gof3r/cli"
)

func main() {
	// Every tool's package inits have run by now, and the kernel keeps
	// mapped what they touched of this binary: most of it, and most of that
	// another tool's. Give it back before the tool starts; what the tool
	// uses faults back from the page cache (see clikit/procmem). A failure
	// only costs memory.
	_, _ = procmem.ReleaseExecutable()
	// The tools by the names of their symlinks, which are the names `make
	// build` gives their separate binaries.
	tools := dispatch.Table{
		"go-cron":     gocron.Main,
		"gof3r":       gof3r.Main,
		"etcd-backup": etcdbackup.Main,
		"es-snapshot": essnapshot.Main,
		"ep":          envplate.Main,
	}
	os.Exit(tools.Run("cronbox", os.Args, os.Stdout, os.Stderr))
}
