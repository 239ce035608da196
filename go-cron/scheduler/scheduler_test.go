package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"cronbox/go-cron/run"
	"cronbox/go-cron/schedule"
	"cronbox/testkit"
)

// fakeClock fires After channels when the test moves time on.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) waiting() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.waiters) }

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

type observer struct {
	mu      sync.Mutex
	next    []time.Time
	skipped map[string]int
}

func (o *observer) Scheduled(n time.Time) { o.mu.Lock(); o.next = append(o.next, n); o.mu.Unlock() }
func (o *observer) Skipped(r string)      { o.mu.Lock(); o.skipped[r]++; o.mu.Unlock() }
func (o *observer) count(r string) int    { o.mu.Lock(); defer o.mu.Unlock(); return o.skipped[r] }

type gate struct {
	mu     sync.Mutex
	refuse map[time.Time]bool
	left   []bool
}

func (g *gate) Enter(_ context.Context, slot time.Time) (func(context.Context, run.Result), error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refuse[slot] {
		return nil, &Skip{Reason: "held", Detail: "held by other"}
	}
	return func(_ context.Context, r run.Result) {
		g.mu.Lock()
		g.left = append(g.left, r.OK())
		g.mu.Unlock()
	}, nil
}

func TestOverlapAndGate(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 13, 0, 0, 500, time.UTC)
	sched, err := schedule.Parse("* * * * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	for _, overlap := range []bool{false, true} {
		clock := &fakeClock{now: t0}
		obs := &observer{skipped: map[string]int{}}
		g := &gate{refuse: map[time.Time]bool{t0.Truncate(time.Second).Add(4 * time.Second): true}}
		release := make(chan struct{})
		var mu sync.Mutex
		var ran []time.Time
		job := func(ctx context.Context, slot time.Time) run.Result {
			mu.Lock()
			ran = append(ran, slot)
			mu.Unlock()
			if slot.Second() == 1 {
				<-release // the first run lasts over the next two slots
			}
			return run.Result{}
		}
		s := New(Config{Schedule: sched, Job: job, Clock: clock, Overlap: overlap, Gate: g, Observer: obs})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		for sec := 1; sec <= 4; sec++ {
			testkit.WaitFor(t, 5*time.Second, "the scheduler to wait", func() error {
				if clock.waiting() == 0 {
					return testkit.ErrNotYet
				}
				return nil
			})
			clock.set(t0.Truncate(time.Second).Add(time.Duration(sec) * time.Second))
			if sec == 3 {
				testkit.WaitFor(t, 5*time.Second, "slot 3 to be decided", func() error {
					mu.Lock()
					defer mu.Unlock()
					if overlap && len(ran) < 3 || !overlap && obs.count("overlap") < 2 {
						return testkit.ErrNotYet
					}
					return nil
				})
				close(release)
				testkit.WaitFor(t, 5*time.Second, "the runs to end", func() error {
					if s.Busy() > 0 {
						return testkit.ErrNotYet
					}
					return nil
				})
			}
		}
		testkit.WaitFor(t, 5*time.Second, "slot 4 to be refused by the gate", func() error {
			if obs.count("held") < 1 {
				return testkit.ErrNotYet
			}
			return nil
		})
		cancel()
		<-done
		mu.Lock()
		wantRan, wantSkipped := 1, 2
		if overlap {
			wantRan, wantSkipped = 3, 0
		}
		if len(ran) != wantRan || obs.count("overlap") != wantSkipped {
			t.Errorf("overlap=%v: ran %v, skipped %d; want %d runs, %d skipped", overlap, ran, obs.count("overlap"), wantRan, wantSkipped)
		}
		if len(g.left) != wantRan {
			t.Errorf("overlap=%v: gate left %d times, want %d", overlap, len(g.left), wantRan)
		}
		mu.Unlock()
	}
}

func TestJitterDelaysTheRun(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	sched, _ := schedule.Parse("0 * * * * *", time.UTC) // every minute
	clock := &fakeClock{now: t0}
	ran := make(chan time.Time, 1)
	s := New(Config{Schedule: sched, Clock: clock, Jitter: 10 * time.Second,
		Job: func(_ context.Context, slot time.Time) run.Result { ran <- clock.Now(); return run.Result{} }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	waiters := func(n int) func() error {
		return func() error {
			if clock.waiting() < n {
				return testkit.ErrNotYet
			}
			return nil
		}
	}
	testkit.WaitFor(t, 5*time.Second, "the scheduler to wait", waiters(1))
	clock.set(t0.Add(time.Minute))
	// Now both the jitter delay and the next slot are waited for.
	testkit.WaitFor(t, 5*time.Second, "the jitter wait", waiters(2))
	clock.mu.Lock()
	var delay time.Duration
	for _, w := range clock.waiters {
		if d := w.at.Sub(t0.Add(time.Minute)); d < 30*time.Second { // not the next slot's wait
			delay = d
		}
	}
	clock.mu.Unlock()
	if delay < 0 || delay >= 10*time.Second {
		t.Fatalf("jitter delay %s, want within [0, 10s)", delay)
	}
	select {
	case at := <-ran:
		t.Fatalf("ran at %s before its jitter passed", at)
	default:
	}
	clock.set(t0.Add(time.Minute + 10*time.Second))
	if at := <-ran; at.Before(t0.Add(time.Minute)) {
		t.Errorf("ran at %s", at)
	}
	cancel()
	s.Wait()
}
