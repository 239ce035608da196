// Package run runs one job once: in its own process group, with its output
// streamed live and its tail kept, an optional timeout that signals the whole
// group (SIGTERM, a grace period, SIGKILL), and a bound on how long a
// grandchild that keeps the output pipes open can hold the run up.
package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"cronbox/go-cron/redact"
)

// Guard keeps a PID-1 zombie reaper away from the runner's own child, which
// exec.Cmd.Wait must reap itself. Start is called with the function that
// forks; the guard holds off reaping until the child's pid is protected.
type Guard interface {
	Start(fork func() (pid int, err error)) error
	Release(pid int)
}

// Config says how to run the job.
type Config struct {
	Command  []string
	Env      []string  // nil: go-cron's own environment
	Stdout   io.Writer // live pass-through of the job's stdout (nil: dropped)
	Stderr   io.Writer
	Tail     int           // bytes of each stream kept for the status
	Timeout  time.Duration // 0: none
	Grace    time.Duration // between SIGTERM (or the forwarded signal) and SIGKILL
	PipeWait time.Duration // how long output pipes may stay open after the job exits
	Redactor *redact.Redactor
	Guard    Guard // nil: no reaper to keep away
	// Kill, when closed, SIGKILLs the job's process group at once (a second
	// SIGTERM/SIGINT to go-cron while the job has its grace period).
	Kill <-chan struct{}
	Now  func() time.Time
	Log  *slog.Logger

	// Output is where the tails are kept, for a caller that shows them
	// while the job runs; nil: Run makes its own of Tail bytes each.
	Output *Output
	// ResultDir, when set, is where each run gets an empty file whose path
	// the job finds in GOCRON_RESULT_FILE, to report its result in (see
	// package jobresult); Result.Report holds what it wrote.
	ResultDir string
}

// Result is one finished run.
type Result struct {
	Pid        int
	Start, End time.Time
	ExitStatus int    // 0–255; 128+n when killed by signal n; 126/127 when it could not start
	Signal     string // "SIGKILL" when a signal ended it
	TimedOut   bool
	Stopped    bool   // ended by go-cron's own shutdown
	Error      string // why it could not start, or what went wrong around it
	Stdout     string // masked tails
	Stderr     string
	// Report is the JSON object the job wrote to GOCRON_RESULT_FILE (nil:
	// none), masked; ReportError says why a file it wrote was not used.
	Report      json.RawMessage
	ReportError string
}

// OK reports whether the run succeeded.
func (r Result) OK() bool { return r.ExitStatus == 0 && r.Signal == "" && r.Error == "" }

// Duration is how long the run took.
func (r Result) Duration() time.Duration { return r.End.Sub(r.Start) }

// StopSignal is the cause to cancel a run's context with to forward sig to
// the job's process group (SIGTERM when the cause is anything else).
type StopSignal struct{ Signal syscall.Signal }

func (s StopSignal) Error() string { return "stopped by " + SignalName(s.Signal) }

// Run runs the job. started, when not nil, is called with the pid as soon as
// the job has started. Cancelling ctx stops the job: the cause's signal (see
// StopSignal) goes to its process group, then SIGKILL after the grace period.
func Run(ctx context.Context, c Config, started func(pid int, start time.Time)) Result {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := c.Output
	if out == nil {
		out = NewOutput(c.Tail, c.Redactor)
	}
	outTail, errTail := out.Stdout, out.Stderr
	res := Result{Start: now()}
	rf := newResultFile(c.ResultDir, log)
	finish := func() Result {
		res.End = now()
		res.Stdout, res.Stderr = outTail.String(), errTail.String()
		res.Report, res.ReportError = rf.read(c.Redactor)
		return res
	}
	if len(c.Command) == 0 {
		res.ExitStatus, res.Error = 127, "no command"
		return finish()
	}

	cmd := exec.Command(c.Command[0], c.Command[1:]...)
	cmd.Env = rf.env(c.Env)
	cmd.Stdin = nil
	cmd.Stdout = tee{live: c.Stdout, tail: outTail}
	cmd.Stderr = tee{live: c.Stderr, tail: errTail}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild that inherited stdout keeps the pipe open after the job
	// exits; without WaitDelay, Wait would block until it exits too.
	cmd.WaitDelay = c.PipeWait
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = time.Second
	}

	fork := func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	}
	var err error
	if c.Guard != nil {
		err = c.Guard.Start(fork)
	} else {
		_, err = fork()
	}
	if err != nil {
		res.ExitStatus = 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			res.ExitStatus = 127
		}
		res.Error = fmt.Sprintf("start %s: %v", c.Command[0], err)
		return finish()
	}
	pid := cmd.Process.Pid
	if c.Guard != nil {
		defer c.Guard.Release(pid)
	}
	res.Pid = pid
	if started != nil {
		started(pid, res.Start)
	}

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var timeout <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var kill <-chan time.Time // armed once the group has been asked to stop
	signalled := false
	killNow := c.Kill
	killed := func() {
		killNow, kill = nil, nil
		log.Warn("killing the job's process group now", "pid", pid)
		syscall.Kill(-pid, syscall.SIGKILL) //nolint:errcheck
	}
	stop := func(sig syscall.Signal) {
		if signalled {
			return
		}
		signalled = true
		log.Info("stopping job", "pid", pid, "signal", SignalName(sig), "grace", c.Grace)
		syscall.Kill(-pid, sig) //nolint:errcheck // the group may be gone already
		t := time.NewTimer(c.Grace)
		kill = t.C
	}
	done := ctx.Done()
	var werr error
wait:
	for {
		select {
		case werr = <-waited:
			break wait
		case <-timeout:
			res.TimedOut = true
			log.Warn("job timed out", "pid", pid, "timeout", c.Timeout)
			stop(syscall.SIGTERM)
		case <-done:
			done = nil
			res.Stopped = true
			sig := syscall.SIGTERM
			var ss StopSignal
			if errors.As(context.Cause(ctx), &ss) {
				sig = ss.Signal
			}
			stop(sig)
		case <-kill:
			kill = nil
			log.Warn("job group outlived the grace period: SIGKILL", "pid", pid)
			syscall.Kill(-pid, syscall.SIGKILL) //nolint:errcheck
		case <-killNow:
			killed()
		}
	}
	if errors.Is(werr, exec.ErrWaitDelay) {
		log.Warn("a process of the job kept its output open after the job exited; stopped reading it", "pid", pid, "pipe_wait", cmd.WaitDelay)
	}

	// The run ends with its process: whatever it left in its process group
	// (a background child, a grandchild holding the pipe) is stopped too, so
	// the next run never overlaps with leftovers of this one.
	if groupAlive(pid) {
		if !signalled {
			log.Info("job left processes in its group; stopping them", "pid", pid)
		}
		stop(syscall.SIGTERM)
		tick := time.NewTicker(10 * time.Millisecond)
		var giveUp <-chan time.Time // after SIGKILL: zombies nobody reaps, processes stuck in the kernel
		if kill == nil {
			giveUp = time.After(c.Grace + time.Second)
		}
	linger:
		for groupAlive(pid) {
			select {
			case <-kill:
				kill = nil
				log.Warn("job group outlived the grace period: SIGKILL", "pid", pid)
				syscall.Kill(-pid, syscall.SIGKILL) //nolint:errcheck
				giveUp = time.After(c.Grace + time.Second)
			case <-killNow:
				killed()
				giveUp = time.After(c.Grace + time.Second)
			case <-giveUp:
				log.Warn("job group still has members after SIGKILL; leaving them", "pid", pid)
				break linger
			case <-tick.C:
			}
		}
		tick.Stop()
	}

	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		res.Signal = SignalName(ws.Signal())
		res.ExitStatus = 128 + int(ws.Signal())
	default:
		res.ExitStatus = ws.ExitStatus()
	}
	return finish()
}

// groupAlive reports whether process group pgid still has a live member.
// Zombies count until they are reaped, so this may wait out the grace period
// for a member that already died; that only costs time, never correctness.
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}

// SignalName is "SIGTERM" for syscall.SIGTERM.
func SignalName(s os.Signal) string {
	sig, ok := s.(syscall.Signal)
	if !ok {
		return s.String()
	}
	if n, ok := signalNames[sig]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(sig))
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
}
