package main

// End-to-end tests of incremental backups (issue 20): the real binary,
// real etcd (embedded 3.7 and Debian's 3.4 cluster) and versitygw.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	s3client "cronbox/gof3r/s3"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

type incrOut struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Full   *struct {
		Destination string `json:"destination"`
		Revision    int64  `json:"revision"`
	} `json:"full"`
	Delta *struct {
		Destination string `json:"destination"`
		From        int64  `json:"from"`
		To          int64  `json:"to"`
		Events      int64  `json:"events"`
		Leases      int64  `json:"leases"`
	} `json:"delta"`
	DuringFull []struct {
		From int64 `json:"from"`
		To   int64 `json:"to"`
	} `json:"deltas_during_full"`
	Chain struct {
		Full         string    `json:"full"`
		FullRevision int64     `json:"full_revision"`
		Deltas       int       `json:"deltas"`
		Revision     int64     `json:"revision"`
		Time         time.Time `json:"time"`
	} `json:"chain"`
}

// saveIncr runs one save --incremental and parses what it printed.
func saveIncr(t *testing.T, env []string, dest string, extra ...string) incrOut {
	t.Helper()
	out, errOut, code := run(t, env, nil, append([]string{"save", "--incremental", dest}, extra...)...)
	if code != 0 {
		t.Fatalf("save --incremental: exit %d: %s", code, errOut)
	}
	var o incrOut
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &o); err != nil {
		t.Fatalf("save --incremental output %q: %v", out, err)
	}
	return o
}

// state is every key at one revision, as etcd reports it.
func state(t *testing.T, cli *clientv3.Client, rev int64) []*mvccpb.KeyValue {
	t.Helper()
	opts := []clientv3.OpOption{clientv3.WithPrefix()}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := cli.Get(ctxT(t), "", opts...)
	if err != nil {
		t.Fatalf("get at revision %d: %v", rev, err)
	}
	return resp.Kvs
}

// sameState compares two states key by key: value, create and mod
// revisions, version and lease.
func sameState(got, want []*mvccpb.KeyValue) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d keys, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) || g.CreateRevision != w.CreateRevision ||
			g.ModRevision != w.ModRevision || g.Version != w.Version || g.Lease != w.Lease {
			return fmt.Errorf("key %d: got %q (%d bytes, create %d, mod %d, version %d, lease %x), want %q (%d bytes, create %d, mod %d, version %d, lease %x)",
				i, g.Key, len(g.Value), g.CreateRevision, g.ModRevision, g.Version, g.Lease, w.Key, len(w.Value), w.CreateRevision, w.ModRevision, w.Version, w.Lease)
		}
	}
	return nil
}

// workload writes, overwrites and deletes keys (in transactions too),
// attaches keys to leases and revokes some, and writes large values, until
// ctx ends.
func workload(ctx context.Context, t *testing.T, cli *clientv3.Client, seed uint64, pause time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(seed, 9))
		var leases []clientv3.LeaseID
		val := func(n int) string {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return string(b)
		}
		// Each operation has its own context: once the workload returns,
		// nothing it sent is still on its way to etcd.
		for i := 0; ctx.Err() == nil; i++ {
			octx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			key := fmt.Sprintf("/w/%03d", r.IntN(300))
			var err error
			switch op := r.IntN(100); {
			case op < 50:
				_, err = cli.Put(octx, key, val(r.IntN(300)))
			case op < 65:
				_, err = cli.Delete(octx, key)
			case op < 75:
				_, err = cli.Txn(octx).Then(clientv3.OpPut(key, val(20)), clientv3.OpPut(key+"/t", val(20)), clientv3.OpDelete(fmt.Sprintf("/w/%03d", r.IntN(300)+300))).Commit()
			case op < 80:
				_, err = cli.Delete(octx, "/w/0", clientv3.WithPrefix()) // a range delete: many events in one revision
			case op < 88:
				if len(leases) == 0 || r.IntN(4) == 0 {
					var l *clientv3.LeaseGrantResponse
					if l, err = cli.Grant(octx, int64(600+r.IntN(600))); err == nil {
						leases = append(leases, l.ID)
					}
				}
				if err == nil {
					_, err = cli.Put(octx, "/l/"+key, val(50), clientv3.WithLease(leases[r.IntN(len(leases))]))
				}
			case op < 90:
				if len(leases) > 1 {
					j := r.IntN(len(leases))
					_, err = cli.Revoke(octx, leases[j]) // deletes its keys
					leases = append(leases[:j], leases[j+1:]...)
				}
			case op < 91:
				_, err = cli.Put(octx, "/big/"+key, val(128<<10))
			default:
				_, err = cli.Put(octx, fmt.Sprintf("/w/%03d", 300+r.IntN(300)), val(10))
			}
			cancel()
			if err != nil {
				t.Errorf("workload: %v", err)
				return
			}
			if pause > 0 {
				select {
				case <-time.After(pause):
				case <-ctx.Done():
				}
			}
		}
	}()
	return &wg
}

// waitRevision waits until etcd is past rev.
func waitRevision(t *testing.T, cli *clientv3.Client, rev int64) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, fmt.Sprintf("etcd past revision %d", rev), func() error {
		resp, err := cli.Get(ctxT(t), "x")
		if err != nil || resp.Header.Revision <= rev {
			return testkit.ErrNotYet
		}
		return nil
	})
}

// deltasOnly is the environment of save --incremental with s3 and extra,
// where no policy (time, size) starts a new chain: only a chain that cannot
// go on gets a full snapshot.
func deltasOnly(s3 *testkit.S3Server, extra ...string) []string {
	return append(append(s3.Env(), "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0"), extra...)
}

// restoreChain restores the chain under prefix at a target (--to-revision R,
// or other flags) and starts etcd on it.
func restoreChain(t *testing.T, env []string, prefix string, extra ...string) (*etcdtest.Embedded, restoreOut) {
	t.Helper()
	r, out := restoreAndStart(t, env, prefix, extra...)
	var o restoreOut
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &o); err != nil {
		t.Fatalf("restore output %q: %v", out, err)
	}
	return r, o
}

type restoreOut struct {
	Revision     int64     `json:"revision"`
	Time         time.Time `json:"time"`
	Full         string    `json:"full"`
	FullRevision int64     `json:"full_revision"`
	Deltas       int       `json:"deltas"`
	Events       int64     `json:"events"`
}

// checkRestored compares a restored etcd with the source at revision rev
// (key by key), then at a few earlier revisions since the full snapshot
// (the replayed history, revision by revision), and checks that every lease
// a restored key is attached to exists.
func checkRestored(t *testing.T, src, restored *clientv3.Client, rev, since int64, r *rand.Rand) {
	t.Helper()
	got := state(t, restored, 0)
	if err := sameState(got, state(t, src, rev)); err != nil {
		t.Fatalf("restored at revision %d: %v", rev, err)
	}
	resp, err := restored.Get(ctxT(t), "any")
	if err != nil || resp.Header.Revision != rev {
		t.Fatalf("restored etcd is at revision %v, want %d (%v)", resp.Header.Revision, rev, err)
	}
	for i := 0; i < 3 && rev > since+1; i++ {
		at := since + 1 + r.Int64N(rev-since)
		if err := sameState(state(t, restored, at), state(t, src, at)); err != nil {
			t.Fatalf("restored to %d, its history at revision %d: %v", rev, at, err)
		}
	}
	// A lease the source still has exists after the restore (one revoked
	// since may have been gone before its delta asked for its TTL: it gets
	// etcd's minimum, and may have expired by now).
	leases := map[int64]bool{}
	for _, kv := range got {
		if kv.Lease != 0 && !leases[kv.Lease] {
			leases[kv.Lease] = true
			if s, err := src.TimeToLive(ctxT(t), clientv3.LeaseID(kv.Lease)); err != nil || s.TTL <= 0 {
				continue
			}
			l, err := restored.TimeToLive(ctxT(t), clientv3.LeaseID(kv.Lease))
			if err != nil || l.TTL <= 0 {
				t.Fatalf("key %q's lease %x after restore: %+v %v", kv.Key, kv.Lease, l, err)
			}
		}
	}
}

// A smaller round trip: full, deltas, nothing changed, restore of the
// newest point and of a revision inside a delta.
func TestIncrementalRoundTrip(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fill(t, cli, "/a/", 500, 1)
	// Fulls only when there is none: the policy's own rules are tested below.
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_FULL_AFTER_BYTES=0", "ETCD_BACKUP_FULL_EVERY=off")
	dest := "s3://" + bucket + "/inc/"

	first := saveIncr(t, env, dest)
	if first.Kind != "full" || first.Reason != "no full snapshot under the prefix yet" || first.Chain.Revision != first.Full.Revision {
		t.Fatalf("first run: %+v", first)
	}
	ctx, stop := context.WithCancel(context.Background())
	wg := workload(ctx, t, cli, 1, 0)
	var runs []incrOut
	for i := 0; i < 3; i++ {
		waitRevision(t, cli, first.Chain.Revision+50*int64(i+1))
		runs = append(runs, saveIncr(t, env, dest))
	}
	stop()
	wg.Wait()
	last := saveIncr(t, env, dest)
	runs = append(runs, last)
	prev := first.Chain.Revision
	for i, o := range runs {
		if o.Kind != "delta" || o.Delta.From != prev+1 || o.Delta.To <= o.Delta.From || o.Chain.Deltas != i+1 || o.Chain.FullRevision != first.Full.Revision {
			t.Fatalf("run %d: %+v (delta %+v), previous end %d", i+1, o, o.Delta, prev)
		}
		prev = o.Delta.To
	}
	// Nothing changed: no object, a log line, success.
	before := objectKeys(t, s3, bucket)
	out, errOut, code := run(t, env, nil, "save", "--incremental", dest)
	if code != 0 || !strings.Contains(errOut, "nothing changed") || !strings.Contains(out, `"kind":"unchanged"`) {
		t.Fatalf("unchanged: exit %d, %s %s", code, out, errOut)
	}
	if after := objectKeys(t, s3, bucket); len(after) != len(before) {
		t.Fatalf("an unchanged run wrote an object: %v", after)
	}

	rnd := rand.New(rand.NewPCG(3, 3))
	r, res := restoreChain(t, env, dest)
	if res.Revision != prev || res.Deltas != 4 {
		t.Fatalf("restore of the newest point: %+v, want revision %d from 4 deltas", res, prev)
	}
	checkRestored(t, cli, r.Client(t), prev, first.Full.Revision, rnd)
	r.Stop()
	mid := (runs[1].Delta.From + runs[1].Delta.To) / 2
	r, res = restoreChain(t, env, dest, "--to-revision", strconv.FormatInt(mid, 10))
	if res.Revision != mid || res.Deltas != 2 {
		t.Fatalf("restore of revision %d: %+v", mid, res)
	}
	checkRestored(t, cli, r.Client(t), mid, first.Full.Revision, rnd)
}

// The test: a workload writes, overwrites and deletes keys (with
// leases and large values) while save --incremental runs every second for
// a minute (ETCD_BACKUP_INCR_TEST_SECONDS shortens it); then the newest
// revision, three revisions in between and a point in time are restored,
// each compared key by key, and by a few revisions of its history, with
// what etcd held (read with Get(WithRev); nothing is compacted).
func TestIncrementalEverySecondForAMinute(t *testing.T) {
	secs := 60
	if v, err := strconv.Atoi(os.Getenv("ETCD_BACKUP_INCR_TEST_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fill(t, cli, "/a/", 2000, 2)
	env := deltasOnly(s3, "ETCDCTL_ENDPOINTS="+src.Endpoint)
	dest := "s3://" + bucket + "/minute/"

	ctx, stop := context.WithCancel(context.Background())
	wg := workload(ctx, t, cli, 7, 2*time.Millisecond)
	var runs []incrOut
	tick := time.NewTicker(time.Second)
	for end := time.Now().Add(time.Duration(secs) * time.Second); time.Now().Before(end); <-tick.C {
		runs = append(runs, saveIncr(t, env, dest))
	}
	tick.Stop()
	stop()
	wg.Wait()
	runs = append(runs, saveIncr(t, env, dest))
	if runs[0].Kind != "full" {
		t.Fatalf("first run: %+v", runs[0])
	}
	base := runs[0].Full.Revision
	var deltas []incrOut
	prev := base
	for i, o := range runs[1:] {
		switch o.Kind {
		case "delta":
			if o.Delta.From != prev+1 {
				t.Fatalf("run %d: delta %d-%d after revision %d", i+2, o.Delta.From, o.Delta.To, prev)
			}
			prev = o.Delta.To
			deltas = append(deltas, o)
		case "unchanged":
		default:
			t.Fatalf("run %d: %+v", i+2, o)
		}
	}
	if len(deltas) < secs/3 {
		t.Fatalf("%d deltas in %d runs", len(deltas), len(runs))
	}
	t.Logf("%d runs, %d deltas, revisions %d to %d", len(runs), len(deltas), base, prev)

	rnd := rand.New(rand.NewPCG(5, 5))
	targets := []int64{prev}
	for i := 1; i <= 3; i++ {
		d := deltas[i*len(deltas)/4]
		targets = append(targets, d.Delta.From+rnd.Int64N(d.Delta.To-d.Delta.From+1))
	}
	for _, rev := range targets {
		args := []string{"--to-revision", strconv.FormatInt(rev, 10)}
		if rev == prev {
			args = nil // the newest point
		}
		r, res := restoreChain(t, env, dest, args...)
		if res.Revision != rev || res.FullRevision != base {
			t.Fatalf("restore of revision %d: %+v", rev, res)
		}
		checkRestored(t, cli, r.Client(t), rev, base, rnd)
		r.Stop()
	}
	// A point in time: the newest point at or before a run's recovery point.
	pick := deltas[len(deltas)/2]
	r, res := restoreChain(t, env, dest, "--to-time", pick.Chain.Time.Add(time.Millisecond).Format(time.RFC3339Nano))
	if res.Revision != pick.Delta.To {
		t.Fatalf("restore --to-time %s: revision %d, want %d", pick.Chain.Time, res.Revision, pick.Delta.To)
	}
	checkRestored(t, cli, r.Client(t), pick.Delta.To, base, rnd)
}

// deltaNames lists the deltas under prefix on the S3 server's disk.
func deltaNames(t *testing.T, s3 *testkit.S3Server, bucket, prefix string) []string {
	var out []string
	for _, k := range objectKeys(t, s3, bucket) {
		if strings.HasPrefix(k, prefix+"delta/") {
			out = append(out, strings.TrimPrefix(k, prefix))
		}
	}
	sort.Strings(out)
	return out
}

// userMeta is an object's metadata without what the S3 client records itself.
func userMeta(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k != "sha256" {
			out[k] = v
		}
	}
	return out
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func mustConfig(t *testing.T, s3 *testkit.S3Server) s3client.Config {
	t.Helper()
	env := map[string]string{}
	for _, kv := range s3.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := s3client.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
