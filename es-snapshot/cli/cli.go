// Package cli is the es-snapshot command line: it parses flags and calls the packages that do the work.
package cli

import (
	"fmt"
	"os"
)

// Version is set at build time with -ldflags "-X cronbox/es-snapshot/cli.Version=...".
var Version = "dev"

// Main runs es-snapshot with args (without the program name) and returns the exit status.
func Main(args []string) int {
	fmt.Fprintln(os.Stderr, "es-snapshot: not implemented yet")
	return 1
}
