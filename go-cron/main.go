// Command go-cron: see cli.Main.
package main

import (
	"os"

	"cronbox/go-cron/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
