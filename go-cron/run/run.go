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

// Result is one finished run. Its JSON (the original go-cron's key names)
// is how the replicas of a locked job share it in etcd (see Record).
type Result struct {
	Pid        int       `json:"Pid"`
	Start      time.Time `json:"StartingTime"`
	End        time.Time `json:"ExitTime"`
	ExitStatus int       `json:"Exit_status"`      // 0–255; 128+n when killed by signal n; 126/127 when it could not start
	Signal     string    `json:"Signal,omitempty"` // "SIGKILL" when a signal ended it
	TimedOut   bool      `json:"TimedOut,omitempty"`
	Stopped    bool      `json:"Stopped,omitempty"` // ended by go-cron's own shutdown
	Error      string    `json:"Error,omitempty"`   // why it could not start, or what went wrong around it
	Stdout     string    `json:"Stdout"`            // masked tails
	Stderr     string    `json:"Stderr"`
	// Report is the JSON object the job wrote to GOCRON_RESULT_FILE (nil:
	// none), masked; ReportError says why a file it wrote was not used
	// (this replica's business: not shared).
	Report      json.RawMessage `json:"Report,omitempty"`
	ReportError string          `json:"-"`
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
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	out := c.Output
	if out == nil {
		out = NewOutput(c.Tail, c.Redactor)
	}
	res := Result{Start: c.Now()}
	rf := newResultFile(c.ResultDir, c.Log)
	finish := func() Result {
		res.End = c.Now()
		res.Stdout, res.Stderr = out.Stdout.String(), out.Stderr.String()
		res.Report, res.ReportError = rf.read(c.Redactor)
		return res
	}
	if len(c.Command) == 0 {
		res.ExitStatus, res.Error = 127, "no command"
		return finish()
	}
	p, err := start(c, rf.env(c.Env), out)
	if err != nil {
		res.ExitStatus = 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			res.ExitStatus = 127
		}
		res.Error = fmt.Sprintf("start %s: %v", c.Command[0], err)
		return finish()
	}
	if c.Guard != nil {
		defer c.Guard.Release(p.pid)
	}
	res.Pid = p.pid
	if started != nil {
		started(p.pid, res.Start)
	}
	res.TimedOut, res.Stopped = p.supervise(ctx)
	p.drain()
	res.ExitStatus, res.Signal = p.exitStatus()
	return finish()
}

// proc is the job's process and its process group while Run watches them.
type proc struct {
	cmd *exec.Cmd
	pid int
	c   Config
	log *slog.Logger

	waited    chan error
	signalled bool             // the group has been asked to stop
	kill      <-chan time.Time // fires when the grace period after that ends
	killNow   <-chan struct{}  // Config.Kill, until used
}

// start forks the job in a process group of its own, with the guard's
// blessing when there is a reaper to keep away.
func start(c Config, env []string, out *Output) (*proc, error) {
	cmd := exec.Command(c.Command[0], c.Command[1:]...)
	cmd.Env = env
	cmd.Stdin = nil
	cmd.Stdout = tee{live: c.Stdout, tail: out.Stdout}
	cmd.Stderr = tee{live: c.Stderr, tail: out.Stderr}
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
		return nil, err
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, c: c, log: c.Log, waited: make(chan error, 1), killNow: c.Kill}
	go func() { p.waited <- cmd.Wait() }()
	return p, nil
}

// stop asks the group to stop with sig (once) and arms SIGKILL for the
// end of the grace period.
func (p *proc) stop(sig syscall.Signal) {
	if p.signalled {
		return
	}
	p.signalled = true
	p.log.Info("stopping job", "pid", p.pid, "signal", SignalName(sig), "grace", p.c.Grace)
	syscall.Kill(-p.pid, sig) //nolint:errcheck // the group may be gone already
	p.kill = time.NewTimer(p.c.Grace).C
}

// graceOver SIGKILLs the group that outlived its grace period.
func (p *proc) graceOver() {
	p.kill = nil
	p.log.Warn("job group outlived the grace period: SIGKILL", "pid", p.pid)
	syscall.Kill(-p.pid, syscall.SIGKILL) //nolint:errcheck
}

// killedNow SIGKILLs the group at once (Config.Kill was closed).
func (p *proc) killedNow() {
	p.killNow, p.kill = nil, nil
	p.log.Warn("killing the job's process group now", "pid", p.pid)
	syscall.Kill(-p.pid, syscall.SIGKILL) //nolint:errcheck
}

// supervise waits for the job to exit, stopping it on timeout or when ctx
// ends, and killing its group when the grace period runs out.
func (p *proc) supervise(ctx context.Context) (timedOut, stopped bool) {
	var timeout <-chan time.Time
	if p.c.Timeout > 0 {
		t := time.NewTimer(p.c.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	done := ctx.Done()
	for {
		select {
		case werr := <-p.waited:
			if errors.Is(werr, exec.ErrWaitDelay) {
				p.log.Warn("a process of the job kept its output open after the job exited; stopped reading it", "pid", p.pid, "pipe_wait", p.cmd.WaitDelay)
			}
			return timedOut, stopped
		case <-timeout:
			timedOut = true
			p.log.Warn("job timed out", "pid", p.pid, "timeout", p.c.Timeout)
			p.stop(syscall.SIGTERM)
		case <-done:
			done = nil
			stopped = true
			sig := syscall.SIGTERM
			var ss StopSignal
			if errors.As(context.Cause(ctx), &ss) {
				sig = ss.Signal
			}
			p.stop(sig)
		case <-p.kill:
			p.graceOver()
		case <-p.killNow:
			p.killedNow()
		}
	}
}

// drain ends the run with its process: whatever the job left in its
// process group (a background child, a grandchild holding the pipe) is
// stopped too, so the next run never overlaps with leftovers of this one.
func (p *proc) drain() {
	if !groupAlive(p.pid) {
		return
	}
	if !p.signalled {
		p.log.Info("job left processes in its group; stopping them", "pid", p.pid)
	}
	p.stop(syscall.SIGTERM)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var giveUp <-chan time.Time // after SIGKILL: zombies nobody reaps, processes stuck in the kernel
	if p.kill == nil {
		giveUp = time.After(p.c.Grace + time.Second)
	}
	for groupAlive(p.pid) {
		select {
		case <-p.kill:
			p.graceOver()
			giveUp = time.After(p.c.Grace + time.Second)
		case <-p.killNow:
			p.killedNow()
			giveUp = time.After(p.c.Grace + time.Second)
		case <-giveUp:
			p.log.Warn("job group still has members after SIGKILL; leaving them", "pid", p.pid)
			return
		case <-tick.C:
		}
	}
}

// exitStatus is the job's exit status as a shell reports it: 128+n when
// signal n ended it.
func (p *proc) exitStatus() (int, string) {
	ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), SignalName(ws.Signal())
	}
	return ws.ExitStatus(), ""
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
