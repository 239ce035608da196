package cli

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"cronbox/clikit"
	"cronbox/go-cron/lock"
	"cronbox/go-cron/run"
	"cronbox/go-cron/scheduler"
	"cronbox/go-cron/status"
)

// lockOptions are the --lock-* flags: single-instance mode across replicas
// through an etcd lease lock (see package lock).
type lockOptions struct {
	etcd, name, instance string
	ttl, timeout         time.Duration
	failOpen             bool
	cacert, cert, key    string
	user                 string
}

func (lo *lockOptions) flags(fs *clikit.FlagSet) {
	fs.String(&lo.etcd, "lock-etcd", "", "etcd endpoints (comma-separated): run each slot on one replica only, under a lease lock", "GOCRON_LOCK_ETCD")
	fs.String(&lo.name, "lock-name", "", "the lock's name, the same on every replica of this job (required with --lock-etcd)", "GOCRON_LOCK_NAME")
	fs.String(&lo.instance, "lock-instance", "", "this replica's id in the lock (default: hostname, with :pid unless PID 1)", "GOCRON_LOCK_INSTANCE")
	fs.Duration(&lo.ttl, "lock-ttl", 10*time.Second, "lease TTL: how soon another replica takes over from a dead holder (whole seconds, at least 2s)", "GOCRON_LOCK_TTL")
	fs.Duration(&lo.timeout, "lock-timeout", 3*time.Second, "deadline of each etcd request", "GOCRON_LOCK_TIMEOUT")
	fs.Bool(&lo.failOpen, "lock-fail-open", false, "run anyway when etcd is unreachable (default: fail closed: don't run, answer 503)", "GOCRON_LOCK_FAIL_OPEN")
	fs.String(&lo.cacert, "lock-cacert", "", "CA bundle to verify etcd's certificate (as etcdctl --cacert)", "GOCRON_LOCK_CACERT")
	fs.String(&lo.cert, "lock-cert", "", "client certificate for etcd (as etcdctl --cert)", "GOCRON_LOCK_CERT")
	fs.String(&lo.key, "lock-key", "", "client key for etcd (as etcdctl --key)", "GOCRON_LOCK_KEY")
	fs.String(&lo.user, "lock-user", "", "etcd user, or user:password (as etcdctl --user); the password may also come from GOCRON_LOCK_PASSWORD or GOCRON_LOCK_PASSWORD_FILE", "GOCRON_LOCK_USER")
}

func (lo *lockOptions) enabled() bool { return lo.etcd != "" }

// config checks the lock options against the rest and builds the lock's
// configuration; errors are usage errors (exit status 2).
func (lo *lockOptions) config(o *options, log *slog.Logger) (lock.Config, error) {
	if lo.name == "" {
		return lock.Config{}, usagef("--lock-etcd needs --lock-name (or GOCRON_LOCK_NAME): the name every replica of this job shares")
	}
	for _, c := range []struct {
		on   bool
		flag string
	}{{o.once, "--once"}, {o.runOnStart, "--run-on-start"}, {o.overlap, "--overlap"}} {
		if c.on {
			return lock.Config{}, usagef("%s cannot be combined with --lock-etcd: the lock runs each scheduled slot once, one at a time, across replicas", c.flag)
		}
	}
	if lo.ttl < 2*time.Second || lo.ttl%time.Second != 0 {
		return lock.Config{}, usagef("--lock-ttl %s: give whole seconds, at least 2s (etcd's shortest lease)", lo.ttl)
	}
	if lo.timeout <= 0 {
		return lock.Config{}, usagef("--lock-timeout %s: must be positive", lo.timeout)
	}
	password, _, err := clikit.Secret(o.lookup, "GOCRON_LOCK_PASSWORD")
	if err != nil {
		return lock.Config{}, err
	}
	cfg := lock.Config{
		Endpoints: clikit.ParseEndpoints(lo.etcd), Name: lo.name, Instance: lo.instance,
		TTL: lo.ttl, Timeout: lo.timeout, FailOpen: lo.failOpen, MaxOutput: o.tail,
		CACert: lo.cacert, Cert: lo.cert, Key: lo.key, User: lo.user, Password: password,
		Log: log,
	}
	if err := cfg.Validate(); err != nil {
		return lock.Config{}, usagef("%v", err)
	}
	return cfg, nil
}

// lockGate is the scheduler's Gate in lock mode: Enter claims the slot in
// etcd; the leave function it returns records the run there and releases.
type lockGate struct {
	l   *lock.Locker
	st  *status.State
	log *slog.Logger

	mu   sync.Mutex
	skip string // the last "skipped: held by ..." decision, for the status

	observe func(instance string, r run.Result) // hears of every finished slot (the notifier)
}

func newLockGate(cfg lock.Config, st *status.State, log *slog.Logger) (*lockGate, error) {
	g := &lockGate{st: st, log: log}
	cfg.OnChange = g.publish
	l, err := lock.New(cfg)
	if err != nil {
		return nil, usagef("%v", err)
	}
	g.l = l
	return g, nil
}

// Enter claims slot for this replica.
func (g *lockGate) Enter(ctx context.Context, slot time.Time) (func(context.Context, run.Result), error) {
	at := slot.UTC().Format(time.RFC3339)
	c, err := g.l.Claim(ctx, slot)
	if err != nil {
		var sk *lock.Skipped
		if errors.As(err, &sk) {
			g.mu.Lock()
			g.skip = "slot " + at + " " + sk.Error()
			g.mu.Unlock()
			g.publish()
			return nil, &scheduler.Skip{Reason: "held", Detail: sk.Error()}
		}
		return nil, &scheduler.Skip{Reason: "etcd-unreachable", Detail: err.Error()}
	}
	done := make(chan struct{})
	if c.Locked() {
		go func() {
			select {
			case <-c.Lost():
				g.log.Warn("lost the lock's lease while the job runs (etcd unreachable for the TTL): another replica may take the next slot", "slot", at)
			case <-done:
			}
		}()
	} else {
		g.log.Warn("running without the lock: etcd is unreachable and --lock-fail-open is set", "slot", at, "reason", c.Reason())
	}
	return func(ctx context.Context, r run.Result) {
		close(done)
		if err := c.Finish(ctx, r); err != nil {
			g.log.Warn("could not record the run in etcd; the replicas will report it lost once its lease expires", "slot", at, "err", err)
		}
	}, nil
}

// publish hands the lock's state to the status port: the shared last run
// and gauges (SetShared), the "Lock" key and, when etcd is unreachable and
// the lock fails closed, the reason for 503 (SetSection).
func (g *lockGate) publish() {
	s := g.l.State()
	g.mu.Lock()
	skip := g.skip
	g.mu.Unlock()
	view := lockJSON{
		Name: s.Name, Instance: s.Instance, FailOpen: s.FailOpen, Etcd: "reachable",
		Holding: s.Holding, Holder: s.Holder, LastSkip: skip,
	}
	problem := ""
	if !s.Reachable {
		view.Etcd = "unreachable: " + s.Reason
		if !s.FailOpen {
			problem = "not running (fail-closed): " + s.Reason
		}
	}
	if !s.HeldSlot.IsZero() {
		view.HeldSlot = s.HeldSlot.UTC().Format(time.RFC3339)
	}
	sh := status.Shared{Reachable: s.Reachable, Holding: s.Holding, Last: s.Last}
	if s.Last != nil {
		view.LastRunBy = s.Last.Instance
	}
	g.st.SetShared(sh)
	g.st.SetSection("Lock", view, problem)
	if g.observe != nil && sh.Last != nil && sh.Last.Outcome == lock.StateDone {
		g.observe(sh.Last.Instance, sh.Last.Result)
	}
}

// lockJSON is the status JSON's "Lock" key.
type lockJSON struct {
	Name      string
	Instance  string // this replica
	Etcd      string // "reachable" or "unreachable: why"
	FailOpen  bool
	Holding   bool   // this replica holds the lock (runs a slot) now
	Holder    string `json:",omitempty"` // the replica running a slot now
	HeldSlot  string `json:",omitempty"`
	LastRunBy string `json:",omitempty"` // the replica that ran the last finished slot
	LastSkip  string `json:",omitempty"` // the last slot this replica skipped because another held it
}

func (g *lockGate) close() {
	if g != nil {
		g.l.Close()
	}
}

// jobEnv is the job's environment: go-cron's own, without the lock's
// password, plus GOCRON_SLOT (the scheduled time the run is for, UTC) and,
// with the lock, GOCRON_LOCK_INSTANCE (the replica running it).
func jobEnv(environ []string, slot time.Time, g *lockGate) []string {
	env := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GOCRON_LOCK_PASSWORD", "GOCRON_LOCK_PASSWORD_FILE", "GOCRON_SLOT", "GOCRON_LOCK_INSTANCE":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GOCRON_SLOT="+slot.UTC().Format(time.RFC3339))
	if g != nil {
		env = append(env, "GOCRON_LOCK_INSTANCE="+g.l.Instance())
	}
	return env
}

// asGate is g as the scheduler's Gate: nil (every slot runs) without the lock.
func (g *lockGate) asGate() scheduler.Gate {
	if g == nil {
		return nil
	}
	return g
}
