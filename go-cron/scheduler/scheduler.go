// Package scheduler fires a job at the times its schedule names: one run at
// a time unless overlap is allowed (a run due while the previous one is
// still going is skipped and counted), with optional random jitter, a run at
// start, and a Gate that may veto a slot before it runs (the seam a
// distributed lock plugs into). It knows nothing about processes: the Job
// function does the running.
package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"cronbox/go-cron/run"
	"cronbox/go-cron/schedule"
)

// Clock is the time source; tests hand in a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// After is time.After.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Gate is consulted before every run: Enter decides whether this process
// may run slot (the schedule's instant, never the clock reading at which it
// fired). A nil error lets the run go ahead, and leave is then called once
// with the run's result when it has finished (the place to record it). An
// error skips the slot; a *Skip names the reason counted in the status
// ("held": another go-cron holds the lock for this slot).
type Gate interface {
	Enter(ctx context.Context, slot time.Time) (leave func(ctx context.Context, r run.Result), err error)
}

// Skip is a Gate's refusal.
type Skip struct {
	Reason string // short, used as a metric label: "held"
	Detail string // for the log: "held by cronbox-2 until 13:05:00"
}

func (s *Skip) Error() string { return "skipped: " + s.Reason + ": " + s.Detail }

// Job runs one slot.
type Job func(ctx context.Context, slot time.Time) run.Result

// Observer hears what the scheduler decides.
type Observer interface {
	Scheduled(next time.Time)
	Skipped(reason string)
}

// Config is a scheduler's setup.
type Config struct {
	Schedule   schedule.Expression
	Job        Job
	Clock      Clock // nil: RealClock
	Overlap    bool
	Jitter     time.Duration // each run starts after a random delay in [0, Jitter)
	RunOnStart bool
	Gate       Gate     // nil: every slot runs
	Observer   Observer // nil: nobody listens
	Log        *slog.Logger
}

// spinWindow is how long before a slot the scheduler stops sleeping and
// yields in a loop instead: at most this much CPU per fire.
const spinWindow = 2 * time.Millisecond

// Scheduler fires Config.Job on Config.Schedule.
type Scheduler struct {
	cfg     Config
	mu      sync.Mutex
	running int
	wg      sync.WaitGroup
}

// New returns a Scheduler.
func New(cfg Config) *Scheduler {
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{cfg: cfg}
}

// Run fires jobs until ctx is done, then waits for the runs in flight (which
// see the same ctx and stop) and returns.
func (s *Scheduler) Run(ctx context.Context) {
	defer s.wg.Wait()
	c := s.cfg.Clock
	next := s.cfg.Schedule.Next(c.Now())
	s.scheduled(next)
	if s.cfg.RunOnStart {
		s.fire(ctx, c.Now())
	}
	for !next.IsZero() {
		// Sleep until just before the slot, then yield in a loop until it:
		// Go's timers wake up to a millisecond late (the poller sleeps in
		// whole milliseconds), and fire latency is what users see. The clock
		// may be stepped while asleep, so check again on waking.
		for now := c.Now(); now.Before(next); now = c.Now() {
			d := next.Sub(now)
			if d <= spinWindow {
				runtime.Gosched()
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-c.After(d - spinWindow):
			}
		}
		if ctx.Err() != nil {
			return
		}
		slot := next
		s.fire(ctx, slot)
		// Slots missed while the machine was suspended or the clock jumped
		// are not made up for: the next one is after now.
		next = s.cfg.Schedule.Next(maxTime(slot, c.Now()))
		s.scheduled(next)
	}
	s.cfg.Log.Warn("schedule has no more fire times")
	<-ctx.Done()
}

// Busy is the number of runs in flight (waiting out jitter or the gate, or running).
func (s *Scheduler) Busy() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Wait waits for the runs in flight.
func (s *Scheduler) Wait() { s.wg.Wait() }

func (s *Scheduler) scheduled(next time.Time) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.Scheduled(next)
	}
}

func (s *Scheduler) skip(slot time.Time, reason, detail string) {
	s.cfg.Log.Warn("run skipped", "slot", slot.Format(time.RFC3339), "reason", reason, "detail", detail)
	if s.cfg.Observer != nil {
		s.cfg.Observer.Skipped(reason)
	}
}

func (s *Scheduler) fire(ctx context.Context, slot time.Time) {
	s.mu.Lock()
	if !s.cfg.Overlap && s.running > 0 {
		s.mu.Unlock()
		s.skip(slot, "overlap", "the previous run is still going")
		return
	}
	s.running++
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer func() {
			s.mu.Lock()
			s.running--
			s.mu.Unlock()
			s.wg.Done()
		}()
		if s.cfg.Jitter > 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.cfg.Clock.After(rand.N(s.cfg.Jitter)):
			}
		}
		leave := func(context.Context, run.Result) {}
		if g := s.cfg.Gate; g != nil {
			var err error
			if leave, err = g.Enter(ctx, slot); err != nil {
				reason, detail := "gate", err.Error()
				var sk *Skip
				if errors.As(err, &sk) {
					reason, detail = sk.Reason, sk.Detail
				}
				s.skip(slot, reason, detail)
				return
			}
		}
		if leave == nil {
			leave = func(context.Context, run.Result) {}
		}
		r := s.cfg.Job(ctx, slot)
		// The run is over even when go-cron is stopping: the gate hears of
		// it with a context of its own.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		leave(lctx, r)
		cancel()
	}()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
