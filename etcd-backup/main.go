// Command etcd-backup: see cli.Main.
package main

import (
	"os"

	"cronbox/etcd-backup/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
