// Package cli is the es-snapshot command line: it reads flags and the
// environment (the container's interface, with the original image's
// variables), builds an esclient.Client and calls package snapshot. The
// exit status is decided here, in one place: 0 done, 1 the work failed,
// 2 usage or configuration.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"cronbox/clikit"
)

// Version is set at build time with -ldflags "-X cronbox/es-snapshot/cli.Version=...".
var Version = "dev"

// Main runs es-snapshot with args (without the program name) and returns the exit status.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
}

// Env is what a run sees of the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string

	check *check // set by `es-snapshot check` (check.go)
}

func usagef(format string, args ...any) error { return clikit.Usagef(format, args...) }

const usage = `usage: es-snapshot COMMAND [flags]

Elasticsearch 7-9 / OpenSearch 1-3 snapshots for scheduled jobs.

commands:
  repo ensure   register the snapshot repository if it is missing or differs, then verify it
  create        take a snapshot and wait for it; success only if SUCCESS with no failed shard
  list          list the repository's snapshots
  prune         delete old snapshots (--keep-last, --max-age), never the newest --min-keep good ones
  restore       restore a snapshot (default: the latest SUCCESS one)
  status        show the running snapshots
  check         check the es-backup job's configuration as these commands read it; contacts nothing

Run es-snapshot COMMAND --help for its flags. Every flag has an environment
variable (shown in --help); flags win. Exit status: 0 done, 1 the work
failed, 2 usage or configuration error.
`

// Run is Main with its outside world passed in.
func Run(ctx context.Context, args []string, env Env) int {
	err := dispatch(ctx, args, env)
	if err == nil || errors.Is(err, clikit.ErrHelp) {
		return 0
	}
	fmt.Fprintf(env.Stderr, "es-snapshot: %s\n", clikit.OneLine(err.Error()))
	return clikit.ExitCode(err)
}

// commands are the commands by name (and check, in check.go, which runs
// some of them). Each command's file has its options, their flags
// (define), their checks, and its work (run); command (flags.go) is what
// they share: parsing, the deadline, the client.
var commands = map[string]func(context.Context, []string, Env) error{
	"repo ensure": command("repo ensure [flags]", 5*time.Minute, func() options { return new(repoOptions) }),
	"create":      command("create [flags]", time.Hour, func() options { return new(createOptions) }),
	"list":        command("list [flags]", 2*time.Minute, func() options { return new(listOptions) }),
	"prune":       command("prune [flags]", 30*time.Minute, func() options { return new(pruneOptions) }),
	"restore":     command("restore [flags] [SNAPSHOT]", time.Hour, func() options { return new(restoreOptions) }),
	"status":      command("status [flags]", 2*time.Minute, func() options { return new(statusOptions) }),
}

func dispatch(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(env.Stdout, usage)
		return clikit.ErrHelp
	case "-version", "--version", "version":
		fmt.Fprintf(env.Stdout, "es-snapshot %s\n", Version)
		return clikit.ErrHelp
	case "repo":
		if len(args) < 2 || args[1] != "ensure" {
			return usagef("repo: the only subcommand is `repo ensure`")
		}
		return commands["repo ensure"](ctx, args[2:], env)
	case "check":
		return cmdCheck(ctx, args[1:], env)
	}
	if cmd, ok := commands[args[0]]; ok {
		return cmd(ctx, args[1:], env)
	}
	return usagef("unknown command %q (see es-snapshot --help)", args[0])
}

// newLogger is the commands' logger: text, at debug with --verbose.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelInfo
	if verbose {
		lvl = slog.LevelDebug
	}
	h, _ := clikit.NewHandler(w, "text", lvl)
	return slog.New(h)
}
