// Package cli is the go-cron command line: it parses flags and calls the packages that do the work.
package cli

import (
	"fmt"
	"os"
)

// Version is set at build time with -ldflags "-X cronbox/go-cron/cli.Version=...".
var Version = "dev"

// Main runs go-cron with args (without the program name) and returns the exit status.
func Main(args []string) int {
	fmt.Fprintln(os.Stderr, "go-cron: not implemented yet")
	return 1
}
