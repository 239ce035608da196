// Command ep: see cli.Main.
package main

import (
	"os"

	"cronbox/envplate/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
