// Command gof3r: see cli.Main.
package main

import (
	"os"

	"cronbox/gof3r/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
