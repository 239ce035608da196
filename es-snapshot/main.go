// Command es-snapshot: see cli.Main.
package main

import (
	"os"

	"cronbox/es-snapshot/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
