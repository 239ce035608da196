package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"cronbox/go-cron/run"
)

// Skipped is Claim's answer when another instance has the slot, or when
// another slot is still running somewhere.
type Skipped struct {
	Slot   time.Time
	HeldBy string // the instance that claimed the slot or is running
	State  string // the slot's record: running, done, lost or skipped
	Reason string // more detail, e.g. which slot is still running
}

func (s *Skipped) Error() string {
	msg := "skipped: held by " + s.HeldBy
	if s.Reason != "" {
		msg += " (" + s.Reason + ")"
	}
	return msg
}

// Unavailable is Claim's answer when etcd cannot be reached and the lock
// fails closed.
type Unavailable struct{ Err error }

func (u *Unavailable) Error() string { return "not run: " + u.Err.Error() }
func (u *Unavailable) Unwrap() error { return u.Err }

// State is what this instance knows of the lock, for the status port.
type State struct {
	Name      string
	Instance  string
	FailOpen  bool
	Reachable bool        // the last request to etcd succeeded
	Reason    string      // why etcd is unreachable, when it is not
	Checked   time.Time   // the last successful request
	Holding   bool        // this instance holds the lock (is running a slot)
	Holder    string      // the instance running a slot now, "" when none
	HeldSlot  time.Time   // the slot Holder is running
	Last      *run.Record // the last finished slot, wherever it ran; nil before the first
}

// Locker claims slots for one job on behalf of one instance. It is safe for
// concurrent use.
type Locker struct {
	cfg  Config
	keys keys
	log  *slog.Logger
	ctx  context.Context // lives until Close: the lease keepalives run under it
	stop context.CancelFunc

	connMu sync.Mutex
	client *etcdClient // only under connMu; a keeper holds its own reference
	// keepers counts the lease keepalive goroutines: Close waits for them
	// before it closes the client they use.
	keepers sync.WaitGroup

	mu      sync.Mutex
	state   State
	holding int
}

// New checks cfg and returns a Locker. It does not contact etcd: the first
// Claim or Refresh does, so go-cron can start (and report why it does not
// run) while etcd is down.
func New(cfg Config) (*Locker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, stop := context.WithCancel(context.Background())
	return &Locker{
		cfg:  cfg,
		keys: keysFor(cfg.Name),
		log:  cfg.Log.With("lock", cfg.Name, "instance", cfg.Instance),
		ctx:  ctx,
		stop: stop,
		state: State{
			Name: cfg.Name, Instance: cfg.Instance, FailOpen: cfg.FailOpen,
			Reason: "etcd not contacted yet",
		},
	}, nil
}

// Close stops lease keepalives and closes the etcd client. Claims still
// running lose their lease, which etcd expires within the TTL.
func (l *Locker) Close() error {
	l.connMu.Lock() // no keeper starts after this (see keepAlive)
	l.stop()
	l.connMu.Unlock()
	l.keepers.Wait() // none renews with the client any more
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if l.client == nil {
		return nil
	}
	l.client.close()
	l.client = nil
	return nil
}

// Instance is this instance's id.
func (l *Locker) Instance() string { return l.cfg.Instance }

// State returns what this instance last learnt of the lock.
func (l *Locker) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state
	s.Holding = l.holding > 0
	if s.Last != nil {
		r := *s.Last
		s.Last = &r
	}
	return s
}

func (l *Locker) conn() (*etcdClient, error) {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if l.ctx.Err() != nil {
		return nil, errors.New("lock closed")
	}
	if l.client == nil {
		c, err := newEtcdClient(l.cfg)
		if err != nil {
			return nil, err
		}
		l.client = c
	}
	return l.client, nil
}

// etcdError is an error already described by describe.
type etcdError struct{ error }

func (e etcdError) Unwrap() error { return e.error }

// describe names the endpoints and the cause of an etcd error.
func (l *Locker) describe(err error) error {
	var done etcdError
	if errors.As(err, &done) {
		return err
	}
	eps := strings.Join(l.cfg.Endpoints, ",")
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return etcdError{fmt.Errorf("etcd %s unreachable: no answer within %s: %w", eps, l.cfg.Timeout, err)}
	case strings.Contains(msg, "CommonName of client"):
		return etcdError{fmt.Errorf("etcd %s: auth: with auth enabled, etcd refuses client certificates that carry a CommonName on the JSON API the lock uses: give the lock a certificate without one, and a user and password: %w", eps, err)}
	case strings.Contains(msg, "authentication failed"), strings.Contains(msg, "permission denied"),
		strings.Contains(msg, "user name is empty"), strings.Contains(msg, "invalid auth token"):
		return etcdError{fmt.Errorf("etcd %s: auth: %w", eps, err)}
	case strings.Contains(msg, "certificate"), strings.Contains(msg, "tls:"), strings.Contains(msg, "x509"), strings.Contains(msg, "TLS"):
		return etcdError{fmt.Errorf("etcd %s: TLS: %w", eps, err)}
	}
	return etcdError{fmt.Errorf("etcd %s unreachable: %w", eps, err)}
}

func (l *Locker) changed() {
	if l.cfg.OnChange != nil {
		l.cfg.OnChange()
	}
}

func (l *Locker) reachable() {
	l.mu.Lock()
	was := l.state.Reachable
	l.state.Reachable, l.state.Reason, l.state.Checked = true, "", l.cfg.Now()
	l.mu.Unlock()
	if !was {
		l.log.Info("etcd reachable", "endpoints", strings.Join(l.cfg.Endpoints, ","))
	}
	l.changed()
}

func (l *Locker) unreachable(err error) {
	l.mu.Lock()
	was := l.state.Reachable
	l.state.Reachable, l.state.Reason = false, err.Error()
	l.mu.Unlock()
	if was {
		l.log.Warn("etcd unreachable", "err", err)
	}
	l.changed()
}

func (l *Locker) setLast(r *run.Record) {
	l.mu.Lock()
	l.state.Last = r
	l.mu.Unlock()
	l.changed()
}

// Claim asks whether this instance may run slot (the schedule's instant).
//   - (c, nil): run it, then call c.Finish. c.Locked() is false when etcd
//     is unreachable and FailOpen let it run anyway.
//   - (nil, *Skipped): another instance has it, or another slot is running.
//   - (nil, *Unavailable): etcd is unreachable and the lock fails closed.
func (l *Locker) Claim(ctx context.Context, slot time.Time) (*Claim, error) {
	slot = slot.UTC()
	c, err := l.claim(ctx, slot)
	if err == nil {
		l.reachable()
		return c, nil
	}
	var skipped *Skipped
	if errors.As(err, &skipped) {
		l.reachable()
		return nil, err
	}
	if ctx.Err() != nil { // go-cron is stopping: that says nothing about etcd
		return nil, fmt.Errorf("claim slot %s: %w", slotName(slot), context.Cause(ctx))
	}
	err = l.describe(err)
	l.unreachable(err)
	if l.cfg.FailOpen {
		l.log.Warn("running without the lock (fail-open)", "slot", slot, "err", err)
		return &Claim{l: l, slot: slot, reason: err.Error()}, nil
	}
	return nil, &Unavailable{Err: err}
}

func (l *Locker) claim(ctx context.Context, slot time.Time) (*Claim, error) {
	cli, err := l.conn()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	ttl := int(l.cfg.TTL / time.Second)
	lease, err := l.grant(ctx, cli, int64(ttl))
	if err != nil {
		return nil, fmt.Errorf("grant lease: %w", err)
	}
	won := false
	defer func() {
		if !won {
			l.revoke(cli, lease)
		}
	}()
	k := l.keys
	for attempt := 0; attempt < 3; attempt++ {
		rec := Record{Slot: slot, State: StateRunning, Instance: l.cfg.Instance, Lease: lease, Claimed: l.cfg.Now().UTC()}
		cur, _ := json.Marshal(rec)
		resp, err := cli.txn(ctx,
			[]compare{createdAt(k.slot(slot), 0), createdAt(k.current, 0)},
			[]requestOp{opPut(k.slot(slot), cur, 0), opPut(k.current, cur, 0), opPut(k.holder, []byte(l.cfg.Instance), lease)},
			[]requestOp{opGet(k.slot(slot)), opGet(k.current), opGet(k.holder)},
		)
		if err != nil {
			return nil, fmt.Errorf("claim slot %s: %w", slotName(slot), err)
		}
		if resp.Succeeded {
			won = true
			l.mu.Lock()
			l.holding++
			l.state.Holder, l.state.HeldSlot = l.cfg.Instance, slot
			l.mu.Unlock()
			l.log.Debug("claimed", "slot", slot, "lease", fmt.Sprintf("%x", lease))
			return &Claim{l: l, slot: slot, locked: true, lease: lease, keep: l.keepAlive(cli, lease), current: cur}, nil
		}
		slotKV, curKV, holderKV := resp.kv(0), resp.kv(1), resp.kv(2)
		if slotKV != nil {
			var r Record
			if err := json.Unmarshal(slotKV.Value, &r); err != nil {
				return nil, fmt.Errorf("slot %s: bad record: %w", slotName(slot), err)
			}
			return nil, &Skipped{Slot: slot, HeldBy: r.Instance, State: r.State, Reason: r.Reason}
		}
		if curKV != nil && holderKV != nil {
			return nil, l.skipOverlap(ctx, cli, slot, curKV, string(holderKV.Value))
		}
		if curKV != nil {
			if err := l.settle(ctx, cli, curKV); err != nil {
				return nil, err
			}
		}
		// The run in progress ended (or was settled) meanwhile: try again.
	}
	return nil, fmt.Errorf("claim slot %s: the lock kept changing hands", slotName(slot))
}

// grant asks for a lease in attempts of a third of the timeout: a request
// that a follower forwarded to a leader which has just died waits out its
// whole deadline, while a new attempt reaches the newly elected leader (a
// 3-member etcd 3.4 elects one in about its election timeout).
func (l *Locker) grant(ctx context.Context, cli *etcdClient, ttl int64) (int64, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, l.cfg.Timeout/3)
		id, err := cli.grant(actx, ttl)
		cancel()
		if err == nil || ctx.Err() != nil {
			return id, err
		}
		var ae *apiError
		retry := errors.Is(err, context.DeadlineExceeded) ||
			errors.As(err, &ae) && (strings.Contains(ae.msg, "leader") || strings.Contains(ae.msg, "timed out") || ae.status >= 500)
		if !retry {
			// An answer a retry won't change (auth, permission), or no
			// member accepting connections at all: say so at once.
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// skipOverlap records slot as skipped because another slot is running, so
// that an instance firing it later skips it too, and returns the Skipped.
func (l *Locker) skipOverlap(ctx context.Context, cli *etcdClient, slot time.Time, curKV *keyValue, holder string) error {
	var cur Record
	_ = json.Unmarshal(curKV.Value, &cur)
	rec := Record{Slot: slot, State: StateSkipped, Instance: holder, Claimed: l.cfg.Now().UTC(),
		Reason: "slot " + slotName(cur.Slot) + " still running"}
	b, _ := json.Marshal(rec)
	k := l.keys.slot(slot)
	resp, err := cli.txn(ctx, []compare{createdAt(k, 0)}, []requestOp{opPut(k, b, 0)}, []requestOp{opGet(k)})
	if err != nil {
		return fmt.Errorf("record slot %s skipped: %w", slotName(slot), err)
	}
	if !resp.Succeeded {
		if kv := resp.kv(0); kv != nil {
			_ = json.Unmarshal(kv.Value, &rec)
		}
	}
	return &Skipped{Slot: slot, HeldBy: rec.Instance, State: rec.State, Reason: rec.Reason}
}

// settle records the run in current as lost: its holder's lease is gone.
// The compare on current's revision makes exactly one settler win.
func (l *Locker) settle(ctx context.Context, cli *etcdClient, curKV *keyValue) error {
	var cur Record
	if err := json.Unmarshal(curKV.Value, &cur); err != nil {
		return fmt.Errorf("current: bad record: %w", err)
	}
	now := l.cfg.Now().UTC()
	reason := fmt.Sprintf("instance %s stopped renewing its lease while running; outcome unknown", cur.Instance)
	last := run.Record{Instance: cur.Instance, Slot: cur.Slot, Outcome: StateLost,
		Result: run.Result{ExitStatus: -1, Error: reason, Start: cur.Claimed, End: now}}
	rec := cur
	rec.State, rec.Reason, rec.ExitStatus = StateLost, reason, &last.ExitStatus
	rb, _ := json.Marshal(rec)
	lb, _ := json.Marshal(last)
	resp, err := cli.txn(ctx,
		[]compare{modifiedAt(l.keys.current, int64(curKV.ModRevision)), createdAt(l.keys.holder, 0)},
		[]requestOp{opPut(l.keys.slot(cur.Slot), rb, 0), opPut(l.keys.last, lb, 0), opDelete(l.keys.current, "")},
		nil,
	)
	if err != nil {
		return fmt.Errorf("settle lost slot %s: %w", slotName(cur.Slot), err)
	}
	if resp.Succeeded {
		l.log.Warn("slot lost: its holder's lease expired mid-run", "slot", cur.Slot, "holder", cur.Instance)
		l.setLast(&last)
	}
	return nil
}

func (l *Locker) revoke(cli *etcdClient, id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Timeout)
	defer cancel()
	if err := cli.revoke(ctx, id); err != nil {
		l.log.Debug("revoke lease (it expires by itself)", "lease", fmt.Sprintf("%x", id), "err", err)
	}
}

// keeper renews a lease every third of its TTL until stopped; lost is
// closed when it could not for a whole TTL, or etcd says the lease is gone.
type keeper struct {
	lost, stop, done chan struct{}
	once             sync.Once
}

// keepAlive starts the keeper of lease id. It renews with cli, the client the lease was granted with, never with
// l.client: Close sets that to nil under connMu, which this goroutine does
// not hold (reading it here was a data race, issue 13.6).
func (l *Locker) keepAlive(cli *etcdClient, id int64) *keeper {
	k := &keeper{lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	every := l.cfg.TTL / 3
	l.connMu.Lock()
	if l.ctx.Err() != nil { // closed meanwhile: nothing to keep
		l.connMu.Unlock()
		close(k.lost)
		close(k.done)
		return k
	}
	l.keepers.Add(1)
	l.connMu.Unlock()
	go func() {
		defer l.keepers.Done()
		defer close(k.done)
		t := time.NewTicker(every)
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-k.stop:
				return
			case <-l.ctx.Done(): // closed: the lease expires by itself
				close(k.lost)
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(l.ctx, every)
			ttl, err := cli.keepAlive(ctx, id)
			cancel()
			switch {
			case err == nil && ttl > 0:
				renewed = time.Now()
			case err == nil || time.Since(renewed) >= l.cfg.TTL:
				l.log.Warn("lease lost", "lease", fmt.Sprintf("%x", id), "err", err)
				close(k.lost)
				return
			}
		}
	}()
	return k
}

// orphan stops renewing, leaving the lease to expire or be revoked.
func (k *keeper) orphan() {
	k.once.Do(func() { close(k.stop) })
	<-k.done
}

// Refresh reads the shared state (who runs now, the last run) from etcd,
// and settles a run whose holder's lease has expired.
func (l *Locker) Refresh(ctx context.Context) error {
	err := l.refresh(ctx)
	if err != nil && ctx.Err() != nil {
		return err
	}
	if err != nil {
		err = l.describe(err)
		l.unreachable(err)
		return err
	}
	l.reachable()
	return nil
}

func (l *Locker) refresh(ctx context.Context) error {
	cli, err := l.conn()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	// A transaction's reads are linearizable: they fail when the cluster
	// has lost quorum, which is what "reachable" must mean here.
	resp, err := cli.txn(ctx, nil, []requestOp{opGet(l.keys.holder), opGet(l.keys.current), opGet(l.keys.last)}, nil)
	if err != nil {
		return fmt.Errorf("read lock state: %w", err)
	}
	holderKV, curKV, lastKV := resp.kv(0), resp.kv(1), resp.kv(2)
	var last *run.Record
	if lastKV != nil {
		last = new(run.Record)
		if err := json.Unmarshal(lastKV.Value, last); err != nil {
			return fmt.Errorf("last: bad record: %w", err)
		}
	}
	var cur Record
	if curKV != nil {
		_ = json.Unmarshal(curKV.Value, &cur)
	}
	l.mu.Lock()
	l.state.Last = last
	l.state.Holder, l.state.HeldSlot = "", time.Time{}
	if holderKV != nil {
		l.state.Holder, l.state.HeldSlot = string(holderKV.Value), cur.Slot
	}
	l.mu.Unlock()
	if curKV != nil && holderKV == nil {
		return l.settle(ctx, cli, curKV)
	}
	return nil
}

// Poll calls Refresh at once and then every Config.Refresh until ctx ends.
func (l *Locker) Poll(ctx context.Context) {
	t := time.NewTicker(l.cfg.Refresh)
	defer t.Stop()
	for {
		_ = l.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Claim is the right to run one slot.
type Claim struct {
	l       *Locker
	slot    time.Time
	locked  bool
	reason  string // why an unlocked claim runs without the lock
	lease   int64
	keep    *keeper
	current []byte // the value of current this claim wrote
	once    sync.Once
}

// Slot is the claimed slot.
func (c *Claim) Slot() time.Time { return c.slot }

// Locked reports whether the claim holds the lock (false for a fail-open
// run while etcd is unreachable).
func (c *Claim) Locked() bool { return c.locked }

// Reason says why an unlocked claim runs without the lock.
func (c *Claim) Reason() string { return c.reason }

// Lost is closed when the lease could no longer be kept alive (etcd
// unreachable for the TTL): another instance may then take the next slot.
// It is nil (never closed) for an unlocked claim.
func (c *Claim) Lost() <-chan struct{} {
	if c.keep == nil {
		return nil
	}
	return c.keep.lost
}

// Finish records the run's result in etcd (slot record and last), releases
// the lock and revokes the lease. Call it exactly once per claim; later
// calls do nothing.
func (c *Claim) Finish(ctx context.Context, res run.Result) error {
	err := errors.New("lock: claim already finished")
	c.once.Do(func() { err = c.finish(ctx, res) })
	return err
}

func (c *Claim) finish(ctx context.Context, res run.Result) error {
	l := c.l
	r := run.Record{Instance: l.cfg.Instance, Slot: c.slot, Outcome: StateDone, Result: res}
	r.Stdout, r.Stderr = tail(r.Stdout, l.cfg.MaxOutput), tail(r.Stderr, l.cfg.MaxOutput)
	r.ReportError = ""
	rec := Record{Slot: c.slot, State: StateDone, Instance: l.cfg.Instance, Claimed: r.Start.UTC(), ExitStatus: &r.ExitStatus}
	if !c.locked {
		rec.Reason = "ran without the lock (fail-open): " + c.reason
	}
	rb, _ := json.Marshal(rec)
	lb, _ := json.Marshal(r)
	k := l.keys
	cli, err := l.conn()
	if err != nil {
		l.setLast(&r)
		return l.finished(c, fmt.Errorf("record slot %s: %w", slotName(c.slot), l.describe(err)))
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	if !c.locked {
		// Best effort: if etcd is back, the replicas agree on Last again.
		_, err := cli.txn(ctx, nil, []requestOp{opPut(k.slot(c.slot), rb, 0), opPut(k.last, lb, 0)}, nil)
		l.setLast(&r)
		if err != nil {
			return l.finished(c, fmt.Errorf("record slot %s: %w", slotName(c.slot), l.describe(err)))
		}
		return l.finished(c, nil)
	}
	prune := opDelete(k.slots, k.slot(c.slot.Add(-l.cfg.Retention)))
	resp, err := cli.txn(ctx,
		[]compare{valueIs(k.current, c.current)},
		[]requestOp{opPut(k.slot(c.slot), rb, 0), opPut(k.last, lb, 0), opDelete(k.current, ""), opDelete(k.holder, ""), prune},
		// Settled as lost while we ran (our lease expired): keep the truth
		// in the slot record, leave last to whatever ran since.
		[]requestOp{opPut(k.slot(c.slot), rb, 0)},
	)
	c.keep.orphan()
	l.revoke(cli, c.lease)
	if err != nil {
		err = l.describe(err)
		l.unreachable(err)
		return l.finished(c, fmt.Errorf("record slot %s: %w", slotName(c.slot), err))
	}
	if !resp.Succeeded {
		l.log.Warn("finished after the lease was lost: the slot was already recorded as lost", "slot", c.slot)
		return l.finished(c, nil)
	}
	l.setLast(&r)
	return l.finished(c, nil)
}

func (l *Locker) finished(c *Claim, err error) error {
	if c.locked {
		l.mu.Lock()
		l.holding--
		if l.state.Holder == l.cfg.Instance && l.state.HeldSlot.Equal(c.slot) {
			l.state.Holder, l.state.HeldSlot = "", time.Time{}
		}
		l.mu.Unlock()
		l.changed()
	}
	return err
}
