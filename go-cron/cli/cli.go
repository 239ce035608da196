// Package cli is the go-cron command line: it reads flags and environment,
// then wires the packages that do the work (schedule, run, scheduler,
// status, reaper, redact). Main is importable so the image can link every
// tool into one multicall binary.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"cronbox/clikit"
	"cronbox/go-cron/redact"
	"cronbox/go-cron/schedule"
)

// Version is set at build time with -ldflags "-X cronbox/go-cron/cli.Version=...".
var Version = "dev"

const usage = `usage: go-cron [flags] SCHEDULE -- COMMAND [ARGS...]
       go-cron [flags] SCHEDULE COMMAND [ARGS...]
       go-cron -s SCHEDULE [-p PORT] [flags] [--] COMMAND [ARGS...]
       go-cron --once [flags] [--] COMMAND [ARGS...]

Runs COMMAND on SCHEDULE, one run at a time, and serves the job's state as
JSON on the status address (GET / and any other path: 200 while the last
run succeeded, 503 when it failed or, with --max-age, is stale; a page for
browsers; /api/runs; /healthz; /metrics). Each run may report its result in
the file GOCRON_RESULT_FILE names.

SCHEDULE: 6 fields with seconds first ("0/10 * * * * *"), 5 fields minute
first as standard cron ("*/5 * * * *" is every 5 minutes; --fields seconds
reads them seconds first, as the original go-cron did), a descriptor
("@hourly", "@every 10s"), optionally prefixed by CRON_TZ=Zone or TZ=Zone.
Day-of-week 0 and 7 are Sunday; ? is *; Quartz's L, W and # are refused.
Daylight saving follows cronie: a fixed-time job in a skipped hour runs
right after the change, in a repeated hour once. It may also come from
GOCRON_SCHEDULE or CRON_SCHEDULE.

Flags (each also read from the environment variable shown):
`

// Main runs go-cron with args (without the program name) and returns the exit status.
func Main(args []string) int {
	return Run(context.Background(), args, os.Environ(), os.Stdout, os.Stderr)
}

type options struct {
	schedule   string
	port       string
	addr       string
	timeout    time.Duration
	grace      time.Duration
	pipeWait   time.Duration
	jitter     time.Duration
	maxAge     time.Duration
	overlap    bool
	runOnStart bool
	once       bool
	tail       int
	history    int
	secrets    string
	logFormat  string
	logLevel   string
	version    bool
	check      bool // --check: validate, print the schedule, start nothing
	fields     string
	chk        checkOptions
	lock       lockOptions
	notify     notifyOptions
	dashed     bool            // the positional arguments came after "--"
	fs         *clikit.FlagSet // where each value came from
	lookup     clikit.Lookup   // go-cron's environment

	// The HEALTHCHECK's view of the status port (healthcheck.go).
	statusFile  string // GOCRON_STATUS_FILE: the bound address is recorded here
	healthcheck bool   // --healthcheck: probe a running go-cron's /healthz
}

// usagef is a usage or configuration error: exit status 2.
func usagef(format string, a ...any) error { return clikit.Usagef(format, a...) }

// Run is Main with its surroundings passed in (tests call it in-process).
func Run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	code, err := run1(ctx, args, environ, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "go-cron: %v\n", err)
		var se *schedule.Error
		if clikit.IsUsage(err) || errors.As(err, &se) {
			return 2
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}

func parseFlags(args, environ []string, stdout io.Writer) (*options, []string, error) {
	o := &options{lookup: clikit.Environ(environ)}
	fs := clikit.NewFlagSet("go-cron", o.lookup)
	fs.Hint = " (see --help)"
	o.fs = fs
	fs.String(&o.schedule, "s", "", "the schedule (the original go-cron's flag)")
	fs.String(&o.port, "p", "", "status port, as in the original go-cron: -p 8080 means --status-addr :8080")
	fs.String(&o.addr, "status-addr", ":18080", `status HTTP address ("off": none)`, "GOCRON_STATUS_ADDR")
	fs.String(&o.statusFile, "status-file", "", `record the status address bound (or "off") in this file, for --healthcheck`, "GOCRON_STATUS_FILE")
	fs.Bool(&o.healthcheck, "healthcheck", false, "probe the running go-cron's /healthz at the address its --status-file records (else --status-addr); exit 0 when healthy, 1 when not")
	fs.Duration(&o.timeout, "timeout", 0, "stop a run after this long (SIGTERM to its process group, then SIGKILL after --grace); 0: never", "GOCRON_TIMEOUT")
	fs.Duration(&o.grace, "grace", 10*time.Second, "time between SIGTERM (timeout or shutdown) and SIGKILL", "GOCRON_GRACE")
	fs.Duration(&o.pipeWait, "pipe-wait", 2*time.Second, "how long a leftover process may keep the job's output open after the job exits", "GOCRON_PIPE_WAIT")
	fs.Duration(&o.jitter, "jitter", 0, "delay each run by a random time below this", "GOCRON_JITTER")
	fs.Duration(&o.maxAge, "max-age", 0, "answer 503 when no run succeeded within this long (counting from the first fire time); 0: off", "HEALTH_MAX_AGE")
	fs.Bool(&o.overlap, "overlap", false, "let a run start while the previous one is still going (default: skip it)", "GOCRON_OVERLAP")
	fs.Bool(&o.runOnStart, "run-on-start", false, "run once at start, then on the schedule", "GOCRON_RUN_ON_START")
	fs.Bool(&o.once, "once", false, "run once now and exit with the job's exit status", "GOCRON_ONCE")
	fs.Int(&o.tail, "tail-bytes", 64<<10, "bytes of each output stream kept for the status JSON", "GOCRON_TAIL_BYTES")
	fs.Int(&o.history, "history", 10, "past runs listed in the status JSON", "GOCRON_HISTORY")
	fs.String(&o.secrets, "secret-names", redact.DefaultPatterns, "comma-separated globs of secret variable names (!NAME exempts); their values show as ***", "GOCRON_SECRET_NAMES")
	fs.String(&o.logFormat, "log-format", "text", "go-cron's own log format: text or json", "GOCRON_LOG_FORMAT")
	fs.String(&o.logLevel, "log-level", "info", "debug, info, warn or error", "GOCRON_LOG_LEVEL")
	fs.Bool(&o.version, "version", false, "print the version and exit")
	fs.Bool(&o.check, "check", false, "check flags, environment and schedule as a start would, print the reading and the next fire times and exit (0, or 2 with the error)")
	fs.String(&o.fields, "fields", "standard", "how 5-field schedules are read: standard (minute first) or seconds (second first, day-of-week *: the original go-cron's reading)", "GOCRON_FIELDS")
	o.chk.flags(fs)
	o.lock.flags(fs)
	o.notify.flags(fs)

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, clikit.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fs.PrintDefaults(stdout)
			return nil, nil, err
		}
		return nil, nil, err
	}
	if o.port != "" {
		if fs.Given("status-addr") {
			return nil, nil, usagef("-p and --status-addr: give one of them")
		}
		if n, err := strconv.Atoi(o.port); err != nil || n < 0 || n > 65535 {
			return nil, nil, usagef("-p %q: not a port number", o.port)
		}
		o.addr = ":" + o.port
	}
	if err := fs.NonNegative("tail-bytes", "timeout", "grace", "pipe-wait", "jitter", "max-age"); err != nil {
		return nil, nil, err
	}
	if _, err := schedule.ParseFields(o.fields); err != nil {
		return nil, nil, usagef("%s: %v", fs.Quote("fields"), err)
	}
	if err := o.chk.validate(o.check, fs); err != nil {
		return nil, nil, err
	}
	if o.statusFile != "" && !filepath.IsAbs(o.statusFile) {
		return nil, nil, usagef("%s: want an absolute path", fs.Quote("status-file"))
	}
	if _, err := clikit.NewHandler(io.Discard, o.logFormat, nil); err != nil {
		return nil, nil, usagef("%s: %v", fs.Quote("log-format"), err)
	}
	if _, err := clikit.ParseLevel(o.logLevel); err != nil {
		return nil, nil, usagef("%s: %v", fs.Quote("log-level"), err)
	}
	// After a "--" that ends the flags comes the command alone (the
	// schedule is in -s or the environment).
	o.dashed = fs.Dash() == 0
	return o, fs.Args(), nil
}

// splitArgs finds the schedule and the command in the positional arguments.
func splitArgs(o *options, args []string) (sched, schedFrom string, command []string, err error) {
	strip := func(a []string) []string {
		if len(a) > 0 && a[0] == "--" {
			return a[1:]
		}
		return a
	}
	envSched, envName := "", ""
	for _, n := range []string{"GOCRON_SCHEDULE", "CRON_SCHEDULE"} {
		if v, ok := o.lookup(n); ok && strings.TrimSpace(v) != "" {
			envSched, envName = v, n
			break
		}
	}
	looksLikeSchedule := func(a string) bool {
		return strings.ContainsAny(a, " \t") || strings.HasPrefix(a, "@")
	}
	switch {
	case o.schedule != "":
		sched, schedFrom, command = o.schedule, "-s", strip(args)
	case o.dashed:
		sched, schedFrom, command = envSched, envName, args
	case len(args) >= 2 && args[1] == "--":
		sched, schedFrom, command = args[0], "argument", args[2:]
	case o.once:
		sched, schedFrom, command = envSched, envName, strip(args)
	case envSched != "" && (len(args) == 0 || !looksLikeSchedule(args[0])):
		sched, schedFrom, command = envSched, envName, strip(args)
	case len(args) >= 1:
		sched, schedFrom, command = args[0], "argument", strip(args[1:])
	}
	if sched == "" && !o.once {
		return "", "", nil, usagef("no schedule: give SCHEDULE, -s or GOCRON_SCHEDULE (see --help)")
	}
	if len(command) == 0 {
		return "", "", nil, usagef("no command to run (see --help)")
	}
	return sched, schedFrom, command, nil
}

// newLogger is go-cron's own logger, masking secrets (format and level
// were checked by parseFlags).
func newLogger(o *options, stderr io.Writer, red *redact.Redactor) *slog.Logger {
	level, _ := clikit.ParseLevel(o.logLevel)
	h, _ := clikit.NewHandler(stderr, o.logFormat, level)
	return slog.New(redact.Handler(h, red))
}

func run1(parent context.Context, args, environ []string, stdout, stderr io.Writer) (int, error) {
	o, args, err := parseFlags(args, environ, stdout)
	if errors.Is(err, clikit.ErrHelp) {
		return 0, nil
	}
	if err != nil {
		return 2, err
	}
	if o.version {
		fmt.Fprintln(stdout, "go-cron", Version)
		return 0, nil
	}
	if o.healthcheck {
		return healthcheck(parent, o, stdout)
	}
	d, err := configure(o, args, environ, stdout, stderr)
	if err != nil {
		return 2, err
	}
	if o.check {
		return checkOnly(o, d.schedText, d.schedFrom, d.sched, d.command, stdout, d.log)
	}
	return d.run(parent)
}

// zoneName names loc; time.Local calls itself "Local", which says nothing.
func zoneName(loc *time.Location, now time.Time) string {
	if loc != time.Local {
		return loc.String()
	}
	abbr, _ := now.In(loc).Zone()
	return "Local (" + abbr + ")"
}

// resultDir makes the private directory the runs' GOCRON_RESULT_FILEs live
// in. Without one (a read-only /tmp) the jobs run without the variable.
func resultDir(log *slog.Logger) string {
	dir, err := os.MkdirTemp("", "go-cron-results-")
	if err != nil {
		log.Warn("no directory for job results; jobs run without GOCRON_RESULT_FILE (set TMPDIR to a writable directory)", "err", err)
		return ""
	}
	return dir
}
