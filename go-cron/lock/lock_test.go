package lock

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"cronbox/go-cron/run"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

func newLocker(t *testing.T, endpoint, instance string, mod ...func(*Config)) *Locker {
	t.Helper()
	cfg := Config{
		Endpoints: []string{endpoint}, Name: "nightly", Instance: instance,
		TTL: 2 * time.Second, Timeout: 2 * time.Second,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, m := range mod {
		m(&cfg)
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

func skippedBy(t *testing.T, err error) *Skipped {
	t.Helper()
	var s *Skipped
	if !errors.As(err, &s) {
		t.Fatalf("want *Skipped, got %v", err)
	}
	return s
}

// Three instances race for each of 30 slots: exactly one wins each slot, the
// others are told who holds it, and a late fourth instance reruns nothing.
func TestEachSlotClaimedOnce(t *testing.T) {
	srv := startEtcd(t, nil)
	ls := []*Locker{newLocker(t, srv.endpoint, "a"), newLocker(t, srv.endpoint, "b"), newLocker(t, srv.endpoint, "c")}
	ctx := context.Background()
	winners := map[string]int{}
	for i := range 30 {
		slot := t0.Add(time.Duration(i) * time.Second)
		var (
			mu     sync.Mutex
			claims []*Claim
			skips  []*Skipped
			wg     sync.WaitGroup
		)
		for _, l := range ls {
			wg.Go(func() {
				c, err := l.Claim(ctx, slot)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					claims = append(claims, c)
					return
				}
				var s *Skipped
				if !errors.As(err, &s) {
					t.Errorf("slot %d: %s: %v", i, l.Instance(), err)
					return
				}
				skips = append(skips, s)
			})
		}
		wg.Wait()
		if len(claims) != 1 || len(skips) != 2 {
			t.Fatalf("slot %d: %d claims, %d skips; want 1 and 2", i, len(claims), len(skips))
		}
		c := claims[0]
		winner := ""
		for _, l := range ls {
			if l.State().Holding {
				winner = l.Instance()
			}
		}
		for _, s := range skips {
			if s.HeldBy != winner || s.Error() != "skipped: held by "+winner {
				t.Errorf("slot %d: skipped %q, want held by %s", i, s.Error(), winner)
			}
		}
		winners[winner]++
		if err := c.Finish(ctx, run.Result{ExitStatus: 0, Stdout: fmt.Sprintf("slot %d\n", i), Start: slot, End: slot}); err != nil {
			t.Fatalf("finish: %v", err)
		}
	}
	late := newLocker(t, srv.endpoint, "late")
	for i := range 30 {
		_, err := late.Claim(ctx, t0.Add(time.Duration(i)*time.Second))
		if s := skippedBy(t, err); s.State != StateDone {
			t.Errorf("late claim of slot %d: state %q, want done", i, s.State)
		}
	}
	t.Logf("winners: %v", winners)
}

// While one slot runs, the next one is skipped everywhere (one run at a time
// across replicas) and stays skipped for an instance that fires it late.
func TestOverlapIsSkippedAndRecorded(t *testing.T) {
	srv := startEtcd(t, nil)
	ctx := context.Background()
	a, b, c := newLocker(t, srv.endpoint, "a"), newLocker(t, srv.endpoint, "b"), newLocker(t, srv.endpoint, "c")
	ca, err := a.Claim(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Claim(ctx, t0.Add(time.Second))
	if s := skippedBy(t, err); s.HeldBy != "a" || s.State != StateSkipped || !strings.Contains(s.Reason, "still running") {
		t.Errorf("overlap: %+v", s)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := b.State(); st.Holder != "a" || !st.HeldSlot.Equal(t0) || st.Holding {
		t.Errorf("b's view while a runs: %+v", st)
	}
	if err := ca.Finish(ctx, run.Result{ExitStatus: 0}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Claim(ctx, t0.Add(time.Second))
	if s := skippedBy(t, err); s.State != StateSkipped {
		t.Errorf("late claim of the overlapped slot: %+v", s)
	}
	cc, err := c.Claim(ctx, t0.Add(2*time.Second))
	if err != nil {
		t.Fatalf("next slot after the run ended: %v", err)
	}
	cc.Finish(ctx, run.Result{})
}

// Every replica reports the same Last, wherever the run happened.
func TestLastIsShared(t *testing.T) {
	srv := startEtcd(t, nil)
	ctx := context.Background()
	a, b := newLocker(t, srv.endpoint, "a"), newLocker(t, srv.endpoint, "b")
	for i, want := range []run.Record{
		{Result: run.Result{ExitStatus: 3, Stdout: "out", Stderr: "boom", Pid: 42}},
		{Result: run.Result{ExitStatus: 0, Stdout: "fine"}},
	} {
		slot := t0.Add(time.Duration(i) * time.Minute)
		want.Start, want.End = slot, slot.Add(time.Second)
		c, err := a.Claim(ctx, slot)
		if err != nil {
			t.Fatal(err)
		}
		if !a.State().Holding {
			t.Error("a holds the lock but State().Holding is false")
		}
		if err := c.Finish(ctx, want.Result); err != nil {
			t.Fatal(err)
		}
		if a.State().Holding {
			t.Error("a finished but State().Holding is true")
		}
		if err := b.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		got := b.State().Last
		if got == nil {
			t.Fatal("b has no Last")
		}
		want.Instance, want.Slot, want.Outcome = "a", slot, StateDone
		if fmt.Sprint(*got) != fmt.Sprint(want) {
			t.Errorf("b's Last\n got %+v\nwant %+v", *got, want)
		}
		if got.OK() != (want.ExitStatus == 0) {
			t.Errorf("OK() = %v for exit %d", got.OK(), want.ExitStatus)
		}
		if al := a.State().Last; al == nil || fmt.Sprint(*al) != fmt.Sprint(want) {
			t.Errorf("a's Last %+v", al)
		}
	}
}

// A holder that dies mid-run keeps the lock until etcd expires its lease
// (TTL); then its slot is recorded lost, never rerun, and the next slot runs
// elsewhere.
func TestDeadHolderIsSettledAsLost(t *testing.T) {
	srv := startEtcd(t, nil)
	ctx := context.Background()
	a, b := newLocker(t, srv.endpoint, "a"), newLocker(t, srv.endpoint, "b")
	ca, err := a.Claim(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	died := time.Now()
	a.Close() // a's keepalives stop, as if the process were killed
	select {
	case <-ca.Lost():
	case <-time.After(5 * time.Second):
		t.Error("Lost() not closed after the locker closed")
	}
	slot := t0
	var cb *Claim
	testkit.WaitFor(t, 10*time.Second, "b to take a slot after a's lease expired", func() error {
		slot = slot.Add(time.Second)
		c, err := b.Claim(ctx, slot)
		if err != nil {
			if s := skippedBy(t, err); s.HeldBy != "a" {
				t.Fatalf("slot %s skipped, held by %q, want a", slot, s.HeldBy)
			}
			return err
		}
		cb = c
		return nil
	})
	if took := time.Since(died); took > 2*time.Second+1500*time.Millisecond {
		t.Errorf("b took over %s after a died, TTL is 2s", took)
	}
	st := b.State()
	if st.Last == nil || st.Last.Outcome != StateLost || st.Last.Instance != "a" || !st.Last.Slot.Equal(t0) || st.Last.ExitStatus != -1 || st.Last.OK() {
		t.Errorf("Last after a died: %+v", st.Last)
	}
	_, err = b.Claim(ctx, t0)
	if s := skippedBy(t, err); s.State != StateLost || s.HeldBy != "a" {
		t.Errorf("reclaiming the lost slot: %+v", s)
	}
	if err := cb.Finish(ctx, run.Result{ExitStatus: 0}); err != nil {
		t.Fatal(err)
	}
}

// Refresh alone (no claim) settles a dead holder's run, and a holder that
// comes back after being settled does not overwrite Last with a stale run.
func TestRefreshSettlesAndLateFinish(t *testing.T) {
	srv := startEtcd(t, nil)
	ctx := context.Background()
	a, b := newLocker(t, srv.endpoint, "a"), newLocker(t, srv.endpoint, "b")
	ca, err := a.Claim(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	ca.keep.orphan() // a stops renewing but stays connected, like a long GC pause
	testkit.WaitFor(t, 10*time.Second, "b to see the run lost", func() error {
		if err := b.Refresh(ctx); err != nil {
			return err
		}
		if l := b.State().Last; l == nil || l.Outcome != StateLost {
			return fmt.Errorf("Last %+v", l)
		}
		return nil
	})
	if err := ca.Finish(ctx, run.Result{ExitStatus: 0}); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if l := b.State().Last; l == nil || l.Outcome != StateLost {
		t.Errorf("Last after the late finish: %+v", l)
	}
	_, err = b.Claim(ctx, t0)
	if s := skippedBy(t, err); s.State != StateDone || s.HeldBy != "a" {
		t.Errorf("slot record after the late finish: %+v", s)
	}
	if err := ca.Finish(ctx, run.Result{}); err == nil {
		t.Error("second Finish succeeded")
	}
}

// etcd down: fail-closed refuses to run and says why, fail-open runs
// unlocked; etcd back: claims work again.
func TestEtcdDownAndBack(t *testing.T) {
	srv := startEtcd(t, nil)
	ctx := context.Background()
	closed := newLocker(t, srv.endpoint, "closed")
	open := newLocker(t, srv.endpoint, "open", func(c *Config) { c.FailOpen = true })
	if err := closed.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !closed.State().Reachable {
		t.Fatal("not reachable after a successful refresh")
	}
	srv.stop()

	start := time.Now()
	_, err := closed.Claim(ctx, t0)
	var u *Unavailable
	if !errors.As(err, &u) {
		t.Fatalf("fail-closed claim with etcd down: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("claim took %s to give up, timeout is 2s", took)
	}
	st := closed.State()
	if st.Reachable || !strings.Contains(st.Reason, srv.endpoint) || !strings.Contains(st.Reason, "unreachable") {
		t.Errorf("state with etcd down: reachable=%v reason=%q", st.Reachable, st.Reason)
	}
	if !strings.HasPrefix(err.Error(), "not run: etcd "+srv.endpoint+" unreachable") {
		t.Errorf("error: %v", err)
	}

	c, err := open.Claim(ctx, t0)
	if err != nil || c.Locked() || c.Reason() == "" {
		t.Fatalf("fail-open claim with etcd down: %v, %+v", err, c)
	}
	if err := c.Finish(ctx, run.Result{ExitStatus: 0}); err == nil {
		t.Error("recording an unlocked run with etcd down reported success")
	}
	if l := open.State().Last; l == nil || !l.OK() {
		t.Errorf("fail-open Last: %+v", l)
	}

	srv.start()
	testkit.WaitFor(t, 15*time.Second, "claims to work again", func() error {
		c, err := closed.Claim(ctx, t0.Add(time.Second))
		if err != nil {
			return err
		}
		return c.Finish(ctx, run.Result{ExitStatus: 0})
	})
	if !closed.State().Reachable {
		t.Error("still unreachable after a successful claim")
	}
}

// Slot records older than the retention behind the newest finished slot are
// pruned; newer ones stay.
func TestOldSlotsArePruned(t *testing.T) {
	srv := startEtcd(t, nil)
	ctx := context.Background()
	l := newLocker(t, srv.endpoint, "a", func(c *Config) { c.Retention = 10 * time.Second })
	for _, d := range []time.Duration{0, 5 * time.Second, 20 * time.Second} {
		c, err := l.Claim(ctx, t0.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Finish(ctx, run.Result{}); err != nil {
			t.Fatal(err)
		}
	}
	cli := testClient(t, srv.endpoint, "", "", "")
	resp, err := cli.Get(ctx, l.keys.slots, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, kv := range resp.Kvs {
		got = append(got, strings.TrimPrefix(string(kv.Key), l.keys.slots))
	}
	if want := []string{slotName(t0.Add(20 * time.Second))}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("slot records %v, want %v", got, want)
	}
}

// Output tails stored in etcd are bounded.
func TestOutputIsBounded(t *testing.T) {
	srv := startEtcd(t, nil)
	ctx := context.Background()
	l := newLocker(t, srv.endpoint, "a", func(c *Config) { c.MaxOutput = 10 })
	c, err := l.Claim(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(ctx, run.Result{Stdout: strings.Repeat("x", 100) + "0123456789", Stderr: "short"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if last := l.State().Last; last.Stdout != "0123456789" || last.Stderr != "short" {
		t.Errorf("stored tails %q %q", last.Stdout, last.Stderr)
	}
}

// testClient is an etcd client for the test's own reads and setup (the lock
// itself speaks the JSON gateway).
func testClient(t *testing.T, endpoint, ca, cert, key string) *clientv3.Client {
	t.Helper()
	var tc *tls.Config
	if ca != "" {
		var err error
		if tc, err = (transport.TLSInfo{TrustedCAFile: ca, CertFile: cert, KeyFile: key}).ClientConfig(); err != nil {
			t.Fatal(err)
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// enableAuth turns authentication on with a root user and user, whose role
// may read and write the lock name's keys only.
func enableAuth(t *testing.T, endpoint, ca, cert, key, name, user, password string) {
	t.Helper()
	ctx := context.Background()
	cli := testClient(t, endpoint, ca, cert, key)
	prefix := keysFor(name).prefix
	for _, step := range []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, user); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, user, prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, user, password); return err },
		func() error { _, err := cli.UserGrantRole(ctx, user, user); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("set up auth: %v", err)
		}
	}
}

// TLS with client certificates and user/password authentication, as
// etcdctl's --cacert/--cert/--key/--user; wrong credentials are reported as
// such.
func TestTLSAndAuth(t *testing.T) {
	serverTLS, ca, cert, key := testCerts(t)
	srv := startEtcd(t, &serverTLS)
	ctx := context.Background()

	enableAuth(t, srv.endpoint, ca, cert, key, "nightly", "cron", "s3cret")

	tests := []struct {
		name string
		mod  func(*Config)
		want string // "" for success, else a substring of the reason
	}{
		{"cert and password", func(c *Config) { c.CACert, c.Cert, c.Key, c.User, c.Password = ca, cert, key, "cron", "s3cret" }, ""},
		{"etcdctl user:password form", func(c *Config) { c.CACert, c.Cert, c.Key, c.User = ca, cert, key, "cron:s3cret" }, ""},
		{"wrong password", func(c *Config) { c.CACert, c.Cert, c.Key, c.User, c.Password = ca, cert, key, "cron", "nope" }, "auth: "},
		{"no CA", func(c *Config) { c.Cert, c.Key, c.User, c.Password = cert, key, "cron", "s3cret" }, "TLS: "},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Generous: a TLS handshake under -race on a loaded CI machine
			// can take over a second, and then the cause reads as a timeout.
			l := newLocker(t, srv.endpoint, tt.name, tt.mod, func(c *Config) { c.Timeout = 10 * time.Second })
			c, err := l.Claim(ctx, t0.Add(time.Duration(i)*time.Second))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("claim: %v", err)
				}
				if err := c.Finish(ctx, run.Result{}); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("claim succeeded")
			}
			if st := l.State(); st.Reachable || !strings.Contains(st.Reason, tt.want) {
				t.Errorf("reason %q, want it to contain %q", st.Reason, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Endpoints: []string{"http://127.0.0.1:2379"}, Name: "nightly"}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"no endpoint", func(c *Config) { c.Endpoints = nil }, "no etcd endpoint"},
		{"bad scheme", func(c *Config) { c.Endpoints = []string{"ftp://x:1"} }, "scheme"},
		{"no name", func(c *Config) { c.Name = "" }, "name"},
		{"slash in name", func(c *Config) { c.Name = "a/b" }, "name"},
		{"TTL too short", func(c *Config) { c.TTL = time.Second }, "TTL"},
		{"TTL fraction", func(c *Config) { c.TTL = 2500 * time.Millisecond }, "TTL"},
		{"cert without key", func(c *Config) { c.Cert = "/etc/hostname" }, "go together"},
		{"missing CA", func(c *Config) { c.CACert = "/nonexistent/ca.pem" }, "CA certificate"},
		{"user without password", func(c *Config) { c.User = "cron" }, "no password"},
		{"user:password", func(c *Config) { c.User = "cron:pw" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// BenchmarkClaimFinish measures what the lock adds to every run: grant,
// claim transaction, finish transaction and revoke against one local member.
func BenchmarkClaimFinish(b *testing.B) {
	srv := startEtcd(b, nil).endpoint
	l, err := New(Config{Endpoints: []string{srv}, Name: "bench", Instance: "a", TTL: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	var claim, finish time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		c, err := l.Claim(ctx, t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := c.Finish(ctx, run.Result{}); err != nil {
			b.Fatal(err)
		}
		claim += mid.Sub(start)
		finish += time.Since(mid)
	}
	b.ReportMetric(float64(claim.Microseconds())/float64(b.N)/1000, "claim-ms/op")
	b.ReportMetric(float64(finish.Microseconds())/float64(b.N)/1000, "finish-ms/op")
}

// Against a 3-member cluster of Debian's etcd 3.4, each instance talking to
// its own member: slots are still claimed once each; an instance whose only
// member is down cannot claim (fail closed) while the others go on; without
// quorum nobody claims; with quorum back everybody does.
func TestClusterOfEtcd34(t *testing.T) {
	cl := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 3})
	ctx := context.Background()
	var ls []*Locker
	for i, ep := range cl.Endpoints() {
		ls = append(ls, newLocker(t, ep, fmt.Sprintf("i%d", i)))
	}
	race := func(slot time.Time, ls []*Locker) (winners []string, unavailable int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, l := range ls {
			wg.Go(func() {
				c, err := l.Claim(ctx, slot)
				mu.Lock()
				defer mu.Unlock()
				var u *Unavailable
				switch {
				case err == nil:
					winners = append(winners, l.Instance())
					if err := c.Finish(ctx, run.Result{}); err != nil {
						t.Errorf("finish: %v", err)
					}
				case errors.As(err, &u):
					unavailable++
				default:
					skippedBy(t, err)
				}
			})
		}
		wg.Wait()
		return winners, unavailable
	}
	slot := t0
	for range 10 {
		slot = slot.Add(time.Second)
		if w, u := race(slot, ls); len(w) != 1 || u != 0 {
			t.Fatalf("slot %s: winners %v, unavailable %d", slot, w, u)
		}
	}

	// Kill the leader: the first claims on the other members ride out the
	// election (the lock retries its lease grant within the timeout).
	admin := cl.Client(t)
	leader := -1
	for i, ep := range cl.Endpoints() {
		st, err := admin.Status(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		if st.Leader == st.Header.MemberId {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no leader")
	}
	other := (leader + 1) % 3
	cl.Kill(t, leader)
	slot = slot.Add(time.Second)
	if w, u := race(slot, ls); len(w) != 1 || w[0] == ls[leader].Instance() || u != 1 {
		t.Errorf("leader (member %d) down: winners %v, unavailable %d", leader, w, u)
	}
	if st := ls[leader].State(); st.Reachable || !strings.Contains(st.Reason, cl.Endpoints()[leader]) {
		t.Errorf("%s's state with its member down: %+v", ls[leader].Instance(), st)
	}

	cl.Kill(t, other) // two of three down: no quorum
	slot = slot.Add(time.Second)
	if w, u := race(slot, ls); len(w) != 0 || u != 3 {
		t.Errorf("no quorum: winners %v, unavailable %d", w, u)
	}
	if err := ls[3-leader-other].Refresh(ctx); err == nil {
		t.Error("Refresh succeeded without quorum")
	}

	cl.Restart(t, leader)
	cl.Restart(t, other)
	testkit.WaitFor(t, 20*time.Second, "claims to work on every member again", func() error {
		slot = slot.Add(time.Second)
		if w, u := race(slot, ls); len(w) != 1 || u != 0 {
			return fmt.Errorf("winners %v, unavailable %d", w, u)
		}
		return nil
	})
	for _, l := range ls {
		if err := l.Refresh(ctx); err != nil || !l.State().Reachable {
			t.Errorf("%s after recovery: %v", l.Instance(), err)
		}
	}
}

// A claim cut short by go-cron's own shutdown is not an etcd outage.
func TestCancelledClaimKeepsEtcdReachable(t *testing.T) {
	srv := startEtcd(t, nil)
	l := newLocker(t, srv.endpoint, "a")
	if err := l.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Claim(ctx, t0)
	var u *Unavailable
	if err == nil || errors.As(err, &u) {
		t.Fatalf("claim with a cancelled context: %v", err)
	}
	if err := l.Refresh(ctx); err == nil {
		t.Fatal("refresh with a cancelled context succeeded")
	}
	if st := l.State(); !st.Reachable {
		t.Errorf("etcd reported unreachable after a cancelled claim: %q", st.Reason)
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"nightly": true, "a": true, "A.b_c-9": true, "9x": true, strings.Repeat("n", 128): true,
		"": false, strings.Repeat("n", 129): false, ".x": false, "-x": false, "_x": false,
		"a b": false, "a/b": false, "é": false, "a\n": false,
	} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}
