// Package cli is the etcd-backup command line: it parses flags and the
// environment, and calls the packages that do the work (backup, dump,
// etcdconn, incremental). One file per command (save.go, verify.go,
// restore.go, dump.go, load.go, prune.go, check.go) holds its options, its
// flags and its run function; options.go the option groups several share.
// Exit status: 0 success, 1 the work failed, 2 usage or configuration error.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"cronbox/clikit"
)

// Version is set at build time with -ldflags "-X cronbox/etcd-backup/cli.Version=...".
var Version = "dev"

// Main runs etcd-backup with args (without the program name) and returns the exit status.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return Run(ctx, args, Env{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}

// Env is everything Run takes from the process, so tests can hand in their own.
type Env struct {
	Getenv         func(string) string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Now            func() time.Time

	check *check // set by `etcd-backup check` (check.go)
}

func usagef(format string, a ...any) error { return clikit.Usagef(format, a...) }

const topUsage = `etcd-backup: consistent etcd v3 backups, streamed to S3 and verified before they count.

Usage:
  etcd-backup save    [flags] [DEST]     snapshot one healthy member to DEST: -, a file, or s3://bucket/key
                                         (s3://bucket/prefix/ or no DEST: a timestamped key under --prefix)
  etcd-backup save --incremental [s3://bucket/prefix/]   a delta since the chain's newest revision, or a full snapshot
  etcd-backup verify  [flags] SRC        check both hashes and print revision, keys and size
  etcd-backup restore [flags] SRC --data-dir DIR   restore into a new data dir
  etcd-backup restore s3://bucket/prefix/ [--to-revision R | --to-time T] --data-dir DIR   a point in time of a chain
  etcd-backup dump    [flags] [DEST]     logical JSON export of the keys under --key
  etcd-backup load    [flags] [SRC]      import a dump (refuses existing keys unless --overwrite)
  etcd-backup prune   [flags] [s3://bucket/prefix/]   delete old backups, keeping --min-keep verified ones
  etcd-backup check                      check the job's configuration as the commands read it; contacts nothing
  etcd-backup version

Run "etcd-backup COMMAND --help" for a command's flags. Every flag also has an
environment variable (shown in its help). Exit status: 0 ok, 1 failed, 2 usage.
`

// commands are the subcommands by name (and check, in check.go, which
// runs some of them). Each command's file has its options, their flags
// (define), and its work (run).
var commands = map[string]func(context.Context, []string, Env) error{
	"save":    command("save [flags] [DEST]", func() options { return new(saveOptions) }),
	"verify":  command("verify [flags] SRC", func() options { return new(verifyOptions) }),
	"restore": command("restore [flags] SRC --data-dir DIR  (SRC s3://bucket/prefix/ with --to-revision R or --to-time T: a point in time of a chain)", func() options { return new(restoreOptions) }),
	"dump":    command("dump [flags] [DEST]", func() options { return new(dumpOptions) }),
	"load":    command("load [flags] [SRC]", func() options { return new(loadOptions) }),
	"prune":   command("prune [flags] [s3://bucket/prefix/]", func() options { return new(pruneOptions) }),
}

// options are a command's options: define declares their flags, run does
// the command's work with them once parsed.
type options interface {
	define(fs *clikit.FlagSet)
	run(ctx context.Context, fs *clikit.FlagSet, args []string, env Env) error
}

// command reads a command's flags into its options and runs it with the
// positional arguments.
func command(synopsis string, newOptions func() options) func(context.Context, []string, Env) error {
	return func(ctx context.Context, args []string, env Env) error {
		o := newOptions()
		fs := clikit.NewFlagSet("etcd-backup", clikit.Getenv(env.Getenv))
		fs.Interspersed, fs.TrimSpace = true, true // flags and arguments mixed, as with etcdctl
		o.define(fs)
		if env.check != nil {
			env.check.flags = fs
		}
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, clikit.ErrHelp) {
				fmt.Fprintf(env.Stdout, "Usage: etcd-backup %s\n\nFlags (each also read from the variables in brackets):\n", synopsis)
				fs.PrintDefaults(env.Stdout)
			}
			return err
		}
		return o.run(ctx, fs, fs.Args(), env)
	}
}

// Run is Main with its process environment handed in.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, topUsage)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "--help", "help":
		fmt.Fprint(env.Stdout, topUsage)
		return 0
	case "--version", "-version", "version":
		fmt.Fprintln(env.Stdout, "etcd-backup", Version)
		return 0
	}
	cmd, ok := commands[name]
	if name == "check" {
		cmd, ok = runCheck, true
	}
	if !ok {
		fmt.Fprintf(env.Stderr, "etcd-backup: unknown command %q (save, verify, restore, dump, load, prune, check)\n", name)
		return 2
	}
	err := cmd(ctx, rest, env)
	if errors.Is(err, clikit.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "etcd-backup %s: %s\n", name, clikit.OneLine(err.Error()))
	}
	return clikit.ExitCode(err)
}

// both names a flag that was not given, with its variables: for a message
// saying it is missing ("--object-lock-retain (AWS_S3_OBJECT_LOCK_RETAIN)").
func both(fs *clikit.FlagSet, name string) string {
	if vars := fs.Vars(name); len(vars) > 0 {
		return fmt.Sprintf("--%s (%s)", name, strings.Join(vars, ", "))
	}
	return "--" + name
}

// newLogger is the commands' logger, at ETCD_BACKUP_LOG_LEVEL (info when
// unset or not a level).
func newLogger(env Env) *slog.Logger {
	level, err := clikit.ParseLevel(env.Getenv("ETCD_BACKUP_LOG_LEVEL"))
	if err != nil {
		level = slog.LevelInfo
	}
	h, _ := clikit.NewHandler(env.Stderr, "text", level)
	return slog.New(h)
}

func printJSON(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintln(w, string(b))
}
