// Package cli is the gof3r command line: it parses flags and calls the packages that do the work.
package cli

import (
	"fmt"
	"os"
)

// Version is set at build time with -ldflags "-X cronbox/gof3r/cli.Version=...".
var Version = "dev"

// Main runs gof3r with args (without the program name) and returns the exit status.
func Main(args []string) int {
	fmt.Fprintln(os.Stderr, "gof3r: not implemented yet")
	return 1
}
