package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
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

// daemon is one start of go-cron: what the flags, the environment and the
// schedule say (configure), and the parts run wires from them.
type daemon struct {
	o                    *options
	environ              []string
	command              []string
	schedText, schedFrom string
	sched                *schedule.Schedule // nil with --once
	ncfg                 notify.Config
	red                  *redact.Redactor
	log                  *slog.Logger
	stdout, stderr       io.Writer

	st        *status.State
	gate      *lockGate // nil without --lock-etcd
	nt        *notify.Notifier
	rp        *reaper.Reaper
	resultDir string
}

// configure reads what the flags leave to be read: the secret patterns,
// the notifications, the schedule and the command. Its errors are usage
// errors.
func configure(o *options, args, environ []string, stdout, stderr io.Writer) (*daemon, error) {
	patterns, err := redact.ParsePatterns(o.secrets)
	if err != nil {
		return nil, usagef("--secret-names: %v", err)
	}
	d := &daemon{o: o, environ: environ, stdout: stdout, stderr: stderr}
	if d.ncfg, err = o.notify.resolve(o.fs, o.lookup); err != nil {
		return nil, err
	}
	// The notification URLs' tokens are masked like secret variables.
	d.red = redact.New(environ, patterns).With(notify.Secrets(d.ncfg)...)
	d.log = newLogger(o, stderr, d.red)
	if d.schedText, d.schedFrom, d.command, err = splitArgs(o, args); err != nil {
		return nil, err
	}
	defaultLoc := time.Local
	if tz, ok := o.lookup("CRON_TZ"); ok && tz != "" {
		if defaultLoc, err = time.LoadLocation(tz); err != nil {
			return nil, usagef("CRON_TZ=%q: %v", tz, err)
		}
	}
	if d.schedText != "" {
		fields, _ := schedule.ParseFields(o.fields) // checked in parseFlags
		if d.sched, err = schedule.ParseWith(d.schedText, schedule.Options{Location: defaultLoc, Fields: fields}); err != nil {
			return nil, fmt.Errorf("%s: %w", d.schedFrom, err)
		}
	}
	return d, nil
}

// run wires the parts (signals, reaper, status, lock, notifier, status
// port), then runs the job once or on the schedule until a signal.
func (d *daemon) run(parent context.Context) (int, error) {
	o, log := d.o, d.log
	if len(d.red.Skipped()) > 0 {
		log.Warn("secret-looking variables too short to mask", "names", strings.Join(d.red.Skipped(), ","), "min_len", redact.MinLen)
	}
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	kill, stopSignals := forwardSignals(ctx, cancel, o.grace, log)
	defer stopSignals()
	defer d.startReaper()()
	d.st = d.newStatus()
	if d.resultDir = resultDir(log); d.resultDir != "" {
		defer os.RemoveAll(d.resultDir)
	}
	if err := d.openLock(); err != nil {
		return 2, err
	}
	defer d.gate.close()
	closeNotifier, err := d.startNotifier()
	if err != nil {
		return 2, err
	}
	defer closeNotifier()
	d.watchLock(ctx)
	stopServer, err := d.serveStatus()
	if err != nil {
		return 2, err
	}
	defer stopServer()

	job := d.newJob(kill)
	if o.once {
		log.Info("running once", "command", strings.Join(d.command, " "))
		job(ctx, time.Now())
		last, _ := d.st.Last()
		return last.ExitStatus, nil
	}
	return d.runSchedule(ctx, job), nil
}

// openLock joins the replicas' lock (--lock-etcd); without it d.gate stays
// nil and every slot runs here.
func (d *daemon) openLock() error {
	if !d.o.lock.enabled() {
		return nil
	}
	lcfg, err := d.o.lock.config(d.o, d.log)
	if err != nil {
		return err
	}
	d.gate, err = newLockGate(lcfg, d.st, d.log)
	return err
}

// watchLock reads the replicas' shared state before the first status
// request, then keeps it fresh until ctx ends.
func (d *daemon) watchLock(ctx context.Context) {
	if d.gate == nil {
		return
	}
	if err := d.gate.l.Refresh(ctx); err != nil {
		d.log.Warn("lock: etcd unreachable at start; not running until it answers", "err", err)
	}
	d.gate.publish()
	go d.gate.l.Poll(ctx)
}

// startNotifier starts the pings and notifications (after the lock: it
// hears of the other replicas' runs); stop delivers what is queued, for at
// most --notify-timeout.
func (d *daemon) startNotifier() (stop func(), err error) {
	if d.nt, err = startNotifier(d.ncfg, d.o, d.command, d.st, d.gate, d.red, d.log); err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.o.notify.timeout)
		defer cancel()
		d.nt.Close(ctx)
	}, nil
}

// forwardSignals makes SIGTERM and SIGINT stop scheduling: the first
// cancels ctx with the signal as its cause (the running job gets it); a
// second one during the grace period closes kill, and the job's process
// group is killed at once. stop ends the forwarding.
func forwardSignals(ctx context.Context, cancel context.CancelCauseFunc, grace time.Duration, log *slog.Logger) (kill <-chan struct{}, stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	killc := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			log.Info("stopping: signal received, forwarding it to the running job", "signal", run.SignalName(s), "grace", grace)
			cancel(run.StopSignal{Signal: s.(syscall.Signal)})
		case <-ctx.Done():
			return
		}
		select {
		case s := <-sigs:
			log.Warn("stopping: second signal: killing the running job's process group now", "signal", run.SignalName(s))
			close(killc)
		case <-stopped:
		}
	}()
	return killc, func() {
		close(stopped)
		signal.Stop(sigs)
	}
}

// startReaper does PID 1's duty: reap what the job leaves behind. It
// returns what stops it.
func (d *daemon) startReaper() (stop func()) {
	d.rp = reaper.New(d.log)
	if err := reaper.SetSubreaper(); err != nil && os.Getpid() != 1 {
		d.log.Debug("cannot become child subreaper; orphans go to PID 1", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go d.rp.Run(ctx)
	return cancel
}

// newStatus is the job's state as the status port shows it.
func (d *daemon) newStatus() *status.State {
	st := status.New(status.Config{
		Schedule: d.schedText, Command: d.command, MaxAge: d.o.maxAge, History: d.o.history,
		Version: Version, Redactor: d.red,
	})
	if sched := d.sched; sched != nil {
		reading := sched.Form
		if sched.Words != "" {
			reading = sched.Words + " (" + sched.Form + ")"
		}
		st.Describe(reading, sched.Location, func(t time.Time, n int) []time.Time { return schedule.NextN(sched, t, n) })
	}
	return st
}

// serveStatus starts the status port (unless it is off) and records its
// address for --healthcheck; stop removes the record and shuts it down.
func (d *daemon) serveStatus() (stop func(), err error) {
	o, log := d.o, d.log
	if o.addr == "off" || o.addr == "" {
		return recordStatusAddr(o, health.Off, log), nil
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, usagef("--status-addr %s: %v", o.addr, err)
	}
	srv := &http.Server{
		Handler:           d.st.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	unrecord := recordStatusAddr(o, ln.Addr().String(), log)
	log.Info("status listening", "addr", ln.Addr().String())
	return func() {
		unrecord()
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		srv.Shutdown(sctx) //nolint:errcheck
	}, nil
}

// newJob is what the scheduler runs for a slot: the command, with the
// status, the notifier and the log told as it starts and ends.
func (d *daemon) newJob(kill <-chan struct{}) scheduler.Job {
	o, st, nt, log := d.o, d.st, d.nt, d.log
	rc := run.Config{
		Command: d.command, Stdout: d.stdout, Stderr: d.stderr, Tail: o.tail,
		Timeout: o.timeout, Grace: o.grace, PipeWait: o.pipeWait,
		Redactor: d.red, Guard: d.rp, Log: log, Kill: kill, ResultDir: d.resultDir,
	}
	jobEnviron := withoutNotifyVars(d.environ)
	command := strings.Join(d.command, " ")
	return func(ctx context.Context, slot time.Time) run.Result {
		rc := rc
		rc.Env = jobEnv(jobEnviron, slot, d.gate)
		rc.Output = run.NewOutput(rc.Tail, d.red)
		nr := nt.Begin(slot)
		r := run.Run(ctx, rc, func(pid int, start time.Time) {
			st.Started(pid, start, rc.Output)
			nr.Started()
			// Logged once the job has started: the log line is not on
			// the way between the slot and the job's start.
			log.Info("run started", "slot", slot.Format(time.RFC3339), "pid", pid, "command", command)
		})
		st.Finished(r)
		nr.Finished(r)
		logFinished(log, r)
		return r
	}
}

func logFinished(log *slog.Logger, r run.Result) {
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
}

// runSchedule runs job on the schedule until ctx ends, and returns
// go-cron's exit status: 1 when the last run failed.
func (d *daemon) runSchedule(ctx context.Context, job scheduler.Job) int {
	o, sched, log := d.o, d.sched, d.log
	now := time.Now()
	fires := schedule.NextN(sched, now, 3)
	times := make([]string, len(fires))
	for i, t := range fires {
		times[i] = t.Format(time.RFC3339)
	}
	attrs := []any{"schedule", d.schedText, "from", d.schedFrom, "as", sched.Form, "means", sched.Words,
		"zone", zoneName(sched.Location, now), "next", strings.Join(times, ", ")}
	if other := sched.Other(); other != "" {
		attrs = append(attrs, "other_reading", other)
	}
	log.Info("schedule read", attrs...)

	// Start-up is over: give back what it alone touched (the other tools'
	// package inits, in the multicall binary), and keep the heap goal
	// small, for the container's whole life.
	if r, err := idle.Settle(d.environ); err != nil {
		log.Debug("idle: could not release start-up memory", "err", err)
	} else {
		log.Debug("idle: start-up memory released", "bytes", r.Released, "gc_percent", r.GCPercent)
	}
	sc := scheduler.New(scheduler.Config{
		Schedule: sched, Job: job, Overlap: o.overlap, Jitter: o.jitter,
		RunOnStart: o.runOnStart, Observer: observers{d.st, d.nt}, Log: log, Gate: d.gate.asGate(),
	})
	sc.Run(ctx)
	last, ran := d.st.Last()
	switch {
	case !ran:
		log.Info("stopped; no run had finished")
		return 0
	case last.OK():
		log.Info("stopped; the last run succeeded")
		return 0
	default:
		log.Info("stopped; the last run failed", "exit_status", last.ExitStatus)
		return 1
	}
}
