// Package cli is the etcd-backup command line: it parses flags and calls the packages that do the work.
package cli

import (
	"fmt"
	"os"
)

// Version is set at build time with -ldflags "-X cronbox/etcd-backup/cli.Version=...".
var Version = "dev"

// Main runs etcd-backup with args (without the program name) and returns the exit status.
func Main(args []string) int {
	fmt.Fprintln(os.Stderr, "etcd-backup: not implemented yet")
	return 1
}
