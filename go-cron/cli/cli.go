// Package cli is the go-cron command line: it reads flags and environment,
// then wires the packages that do the work (schedule, run, scheduler,
// status, reaper, redact). Main is importable so the image can link every
// tool into one multicall binary.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cronbox/go-cron/health"
	"cronbox/go-cron/idle"
	"cronbox/go-cron/notify"
	"cronbox/go-cron/reaper"
	"cronbox/go-cron/redact"
	"cronbox/go-cron/run"
	"cronbox/go-cron/schedule"
	"cronbox/go-cron/scheduler"
	"cronbox/go-cron/status"
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
	set        map[string]bool // the flags given on the command line

	// The HEALTHCHECK's view of the status port (healthcheck.go).
	statusFile  string // GOCRON_STATUS_FILE: the bound address is recorded here
	healthcheck bool   // --healthcheck: probe a running go-cron's /healthz
}

// usageError is a usage or configuration error: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// Run is Main with its surroundings passed in (tests call it in-process).
func Run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	code, err := run1(ctx, args, environ, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "go-cron: %v\n", err)
		var ue usageError
		var se *schedule.Error
		if errors.As(err, &ue) || errors.As(err, &se) {
			return 2
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}

func getenv(environ []string, name string) (string, bool) {
	for i := len(environ) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(environ[i], name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func parseFlags(args, environ []string, stdout io.Writer) (*options, []string, error) {
	o := &options{}
	fs := flag.NewFlagSet("go-cron", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	envOf := map[string]string{}
	str := func(p *string, name, env, def, help string) {
		fs.StringVar(p, name, def, help)
		envOf[name] = env
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, help string) {
		fs.DurationVar(p, name, def, help)
		envOf[name] = env
	}
	boolean := func(p *bool, name, env, help string) {
		fs.BoolVar(p, name, false, help)
		envOf[name] = env
	}
	integer := func(p *int, name, env string, def int, help string) {
		fs.IntVar(p, name, def, help)
		envOf[name] = env
	}
	str(&o.schedule, "s", "", "", "the schedule (the original go-cron's flag)")
	str(&o.port, "p", "", "", "status port, as in the original go-cron: -p 8080 means --status-addr :8080")
	str(&o.addr, "status-addr", "GOCRON_STATUS_ADDR", ":18080", `status HTTP address ("off": none)`)
	str(&o.statusFile, "status-file", "GOCRON_STATUS_FILE", "", `record the status address bound (or "off") in this file, for --healthcheck`)
	boolean(&o.healthcheck, "healthcheck", "", "probe the running go-cron's /healthz at the address its --status-file records (else --status-addr); exit 0 when healthy, 1 when not")
	dur(&o.timeout, "timeout", "GOCRON_TIMEOUT", 0, "stop a run after this long (SIGTERM to its process group, then SIGKILL after --grace); 0: never")
	dur(&o.grace, "grace", "GOCRON_GRACE", 10*time.Second, "time between SIGTERM (timeout or shutdown) and SIGKILL")
	dur(&o.pipeWait, "pipe-wait", "GOCRON_PIPE_WAIT", 2*time.Second, "how long a leftover process may keep the job's output open after the job exits")
	dur(&o.jitter, "jitter", "GOCRON_JITTER", 0, "delay each run by a random time below this")
	dur(&o.maxAge, "max-age", "HEALTH_MAX_AGE", 0, "answer 503 when no run succeeded within this long (counting from the first fire time); 0: off")
	boolean(&o.overlap, "overlap", "GOCRON_OVERLAP", "let a run start while the previous one is still going (default: skip it)")
	boolean(&o.runOnStart, "run-on-start", "GOCRON_RUN_ON_START", "run once at start, then on the schedule")
	boolean(&o.once, "once", "GOCRON_ONCE", "run once now and exit with the job's exit status")
	integer(&o.tail, "tail-bytes", "GOCRON_TAIL_BYTES", 64<<10, "bytes of each output stream kept for the status JSON")
	integer(&o.history, "history", "GOCRON_HISTORY", 10, "past runs listed in the status JSON")
	str(&o.secrets, "secret-names", "GOCRON_SECRET_NAMES", redact.DefaultPatterns, "comma-separated globs of secret variable names (!NAME exempts); their values show as ***")
	str(&o.logFormat, "log-format", "GOCRON_LOG_FORMAT", "text", "go-cron's own log format: text or json")
	str(&o.logLevel, "log-level", "GOCRON_LOG_LEVEL", "info", "debug, info, warn or error")
	boolean(&o.version, "version", "", "print the version and exit")
	boolean(&o.check, "check", "", "check flags, environment and schedule as a start would, print the reading and the next fire times and exit (0, or 2 with the error)")
	str(&o.fields, "fields", "GOCRON_FIELDS", "standard", "how 5-field schedules are read: standard (minute first) or seconds (second first, day-of-week *: the original go-cron's reading)")
	o.chk.flags(str, integer)
	o.lock.flags(str, dur, boolean)
	o.notify.flags(str, dur, boolean, integer)

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, nil, flag.ErrHelp
		}
		return nil, nil, usagef("%v (see --help)", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.set = set
	for name, env := range envOf {
		if env == "" || set[name] {
			continue
		}
		if v, ok := getenv(environ, env); ok && v != "" {
			if err := fs.Set(name, v); err != nil {
				return nil, nil, usagef("%s=%q: %v", env, v, err)
			}
		}
	}
	if o.port != "" {
		if set["status-addr"] {
			return nil, nil, usagef("-p and --status-addr: give one of them")
		}
		if n, err := strconv.Atoi(o.port); err != nil || n < 0 || n > 65535 {
			return nil, nil, usagef("-p %q: not a port number", o.port)
		}
		o.addr = ":" + o.port
	}
	if o.tail < 0 {
		return nil, nil, usagef("--tail-bytes %d: must not be negative", o.tail)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", o.timeout}, {"grace", o.grace}, {"pipe-wait", o.pipeWait}, {"jitter", o.jitter}, {"max-age", o.maxAge}} {
		if d.v >= 0 {
			continue
		}
		if env := envOf[d.name]; !set[d.name] && env != "" {
			return nil, nil, usagef("%s=%v: must not be negative", env, d.v)
		}
		return nil, nil, usagef("--%s %v: must not be negative", d.name, d.v)
	}
	// origin names where a value came from: `--flag "v"` or `VARIABLE="v"`.
	origin := func(name, value string) string {
		if env := envOf[name]; !set[name] && env != "" {
			if v, ok := getenv(environ, env); ok && v != "" {
				return fmt.Sprintf("%s=%q", env, value)
			}
		}
		return fmt.Sprintf("--%s %q", name, value)
	}
	if _, err := schedule.ParseFields(o.fields); err != nil {
		return nil, nil, usagef("%s: %v", origin("fields", o.fields), err)
	}
	if err := o.chk.validate(o.check, set, origin); err != nil {
		return nil, nil, err
	}
	if o.statusFile != "" && !filepath.IsAbs(o.statusFile) {
		return nil, nil, usagef("%s %q: want an absolute path", flagOrEnv("status-file", envOf, set), o.statusFile)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return nil, nil, usagef("--log-format %q: want text or json", o.logFormat)
	}
	rest := fs.Args()
	// flag swallows a "--" that ends the flags; after it comes the command
	// alone (the schedule is in -s or the environment).
	if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
		o.dashed = true
	}
	return o, rest, nil
}

// splitArgs finds the schedule and the command in the positional arguments.
func splitArgs(o *options, args, environ []string) (sched, schedFrom string, command []string, err error) {
	strip := func(a []string) []string {
		if len(a) > 0 && a[0] == "--" {
			return a[1:]
		}
		return a
	}
	envSched, envName := "", ""
	for _, n := range []string{"GOCRON_SCHEDULE", "CRON_SCHEDULE"} {
		if v, ok := getenv(environ, n); ok && strings.TrimSpace(v) != "" {
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

func newLogger(o *options, stderr io.Writer, red *redact.Redactor) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(stderr, hopts)
	if o.logFormat == "json" {
		h = slog.NewJSONHandler(stderr, hopts)
	}
	return slog.New(redact.Handler(h, red)), nil
}

func run1(parent context.Context, args, environ []string, stdout, stderr io.Writer) (int, error) {
	o, args, err := parseFlags(args, environ, stdout)
	if errors.Is(err, flag.ErrHelp) {
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
	patterns, err := redact.ParsePatterns(o.secrets)
	if err != nil {
		return 2, usagef("--secret-names: %v", err)
	}
	ncfg, err := o.notify.resolve(environ, o.set)
	if err != nil {
		return 2, err
	}
	// The notification URLs' tokens are masked like secret variables.
	red := redact.New(environ, patterns).With(notify.Secrets(ncfg)...)
	log, err := newLogger(o, stderr, red)
	if err != nil {
		return 2, err
	}
	schedText, schedFrom, command, err := splitArgs(o, args, environ)
	if err != nil {
		return 2, err
	}
	defaultLoc := time.Local
	if tz, ok := getenv(environ, "CRON_TZ"); ok && tz != "" {
		if defaultLoc, err = time.LoadLocation(tz); err != nil {
			return 2, usagef("CRON_TZ=%q: %v", tz, err)
		}
	}
	var sched *schedule.Schedule
	if schedText != "" {
		fields, _ := schedule.ParseFields(o.fields) // checked in parseFlags
		if sched, err = schedule.ParseWith(schedText, schedule.Options{Location: defaultLoc, Fields: fields}); err != nil {
			return 2, fmt.Errorf("%s: %w", schedFrom, err)
		}
	}
	if o.check {
		return checkOnly(o, environ, schedText, schedFrom, sched, command, stdout, log)
	}
	if len(red.Skipped()) > 0 {
		log.Warn("secret-looking variables too short to mask", "names", strings.Join(red.Skipped(), ","), "min_len", redact.MinLen)
	}

	// SIGTERM/SIGINT stop scheduling and are forwarded to the running job.
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	// A second one during the grace period kills the job's group at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	kill := make(chan struct{})
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case s := <-sigs:
			log.Info("stopping: signal received, forwarding it to the running job", "signal", run.SignalName(s), "grace", o.grace)
			cancel(run.StopSignal{Signal: s.(syscall.Signal)})
		case <-ctx.Done():
			return
		}
		select {
		case s := <-sigs:
			log.Warn("stopping: second signal: killing the running job's process group now", "signal", run.SignalName(s))
			close(kill)
		case <-stopped:
		}
	}()

	// PID 1 duty: reap what the job leaves behind.
	rp := reaper.New(log)
	if err := reaper.SetSubreaper(); err != nil && os.Getpid() != 1 {
		log.Debug("cannot become child subreaper; orphans go to PID 1", "err", err)
	}
	reapCtx, stopReaper := context.WithCancel(context.Background())
	defer stopReaper()
	go rp.Run(reapCtx)

	st := status.New(status.Config{
		Schedule: schedText, Command: command, MaxAge: o.maxAge, History: o.history,
		Version: Version, Redactor: red,
	})
	if sched != nil {
		reading := sched.Form
		if sched.Words != "" {
			reading = sched.Words + " (" + sched.Form + ")"
		}
		st.Describe(reading, sched.Location, func(t time.Time, n int) []time.Time { return schedule.NextN(sched, t, n) })
	}
	resultDir := resultDir(log)
	if resultDir != "" {
		defer os.RemoveAll(resultDir)
	}
	var gate *lockGate
	if o.lock.enabled() {
		lcfg, err := o.lock.config(o, environ, log)
		if err != nil {
			return 2, err
		}
		if gate, err = newLockGate(lcfg, st, log); err != nil {
			return 2, err
		}
		defer gate.close()
	}

	nt, err := startNotifier(ncfg, o, environ, command, st, gate, red, log)
	if err != nil {
		return 2, err
	}
	defer func() {
		dctx, c := context.WithTimeout(context.Background(), o.notify.timeout)
		nt.Close(dctx)
		c()
	}()

	if gate != nil {
		// Know the shared state before the first status request.
		if err := gate.l.Refresh(ctx); err != nil {
			log.Warn("lock: etcd unreachable at start; not running until it answers", "err", err)
		}
		gate.publish()
		go gate.l.Poll(ctx)
	}

	if o.addr != "off" && o.addr != "" {
		ln, err := net.Listen("tcp", o.addr)
		if err != nil {
			return 2, usagef("--status-addr %s: %v", o.addr, err)
		}
		srv := &http.Server{
			Handler:           st.Handler(),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
		go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
		defer func() {
			sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			defer c()
			srv.Shutdown(sctx) //nolint:errcheck
		}()
		defer recordStatusAddr(o, ln.Addr().String(), log)()
		log.Info("status listening", "addr", ln.Addr().String())
	} else {
		defer recordStatusAddr(o, health.Off, log)()
	}

	rc := run.Config{
		Command: command, Stdout: stdout, Stderr: stderr, Tail: o.tail,
		Timeout: o.timeout, Grace: o.grace, PipeWait: o.pipeWait,
		Redactor: red, Guard: rp, Log: log, Kill: kill, ResultDir: resultDir,
	}
	jobEnviron := withoutNotifyVars(environ)
	job := func(ctx context.Context, slot time.Time) run.Result {
		// Logged once the job has started: the log line is not on the way
		// between the slot and the job's start.
		rc := rc
		rc.Env = jobEnv(jobEnviron, slot, gate)
		rc.Output = run.NewOutput(rc.Tail, red)
		nr := nt.Begin(slot)
		r := run.Run(ctx, rc, func(pid int, start time.Time) {
			st.Started(pid, start, rc.Output)
			nr.Started()
			log.Info("run started", "slot", slot.Format(time.RFC3339), "pid", pid, "command", strings.Join(command, " "))
		})
		st.Finished(r)
		nr.Finished(r)
		attrs := []any{"pid", r.Pid, "exit_status", r.ExitStatus, "result", status.ResultOf(r), "duration", r.Duration().Round(time.Millisecond)}
		if r.Signal != "" {
			attrs = append(attrs, "signal", r.Signal)
		}
		if r.TimedOut {
			attrs = append(attrs, "timed_out", true)
		}
		if r.Error != "" {
			attrs = append(attrs, "error", r.Error)
		}
		if r.OK() {
			log.Info("run finished", attrs...)
		} else {
			log.Warn("run failed", attrs...)
		}
		return r
	}

	if o.once {
		log.Info("running once", "command", strings.Join(command, " "))
		job(ctx, time.Now())
		last, _ := st.Last()
		return last.ExitStatus, nil
	}

	now := time.Now()
	fires := schedule.NextN(sched, now, 3)
	times := make([]string, len(fires))
	for i, t := range fires {
		times[i] = t.Format(time.RFC3339)
	}
	attrs := []any{"schedule", schedText, "from", schedFrom, "as", sched.Form, "means", sched.Words,
		"zone", zoneName(sched.Location, now), "next", strings.Join(times, ", ")}
	if other := sched.Other(); other != "" {
		attrs = append(attrs, "other_reading", other)
	}
	log.Info("schedule read", attrs...)

	// Start-up is over: give back what it alone touched (the other tools'
	// package inits, in the multicall binary), and keep the heap goal
	// small, for the container's whole life.
	if r, err := idle.Settle(environ); err != nil {
		log.Debug("idle: could not release start-up memory", "err", err)
	} else {
		log.Debug("idle: start-up memory released", "bytes", r.Released, "gc_percent", r.GCPercent)
	}
	sc := scheduler.New(scheduler.Config{
		Schedule: sched, Job: job, Overlap: o.overlap, Jitter: o.jitter,
		RunOnStart: o.runOnStart, Observer: observers{st, nt}, Log: log, Gate: gate.asGate(),
	})
	sc.Run(ctx)
	last, ran := st.Last()
	switch {
	case !ran:
		log.Info("stopped; no run had finished")
		return 0, nil
	case last.OK():
		log.Info("stopped; the last run succeeded")
		return 0, nil
	default:
		log.Info("stopped; the last run failed", "exit_status", last.ExitStatus)
		return 1, nil
	}
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
