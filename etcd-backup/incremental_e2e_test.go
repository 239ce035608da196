package main

// End-to-end tests of incremental backups (issue 20): the real binary,
// real etcd (embedded 3.7 and Debian's 3.4 cluster) and versitygw.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"cronbox/etcd-backup/chain"
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
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0")
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

// Compaction of the chain's next revision forces a full snapshot, and the
// new chain restores.
func TestIncrementalCompactionForcesFull(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fill(t, cli, "/a/", 200, 1)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0")
	dest := "s3://" + bucket + "/c/"
	saveIncr(t, env, dest)
	fill(t, cli, "/b/", 200, 2)
	d := saveIncr(t, env, dest)
	if d.Kind != "delta" {
		t.Fatalf("second run: %+v", d)
	}
	fill(t, cli, "/a/", 200, 3) // overwrites: the compaction removes history
	resp, err := cli.Get(ctxT(t), "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctxT(t), resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	o := saveIncr(t, env, dest)
	if o.Kind != "full" || !strings.Contains(o.Reason, "compacted") || o.Full.Revision != resp.Header.Revision {
		t.Fatalf("after compaction: %+v", o)
	}
	fill(t, cli, "/c/", 50, 4)
	if o = saveIncr(t, env, dest); o.Kind != "delta" || o.Delta.From != resp.Header.Revision+1 || o.Chain.Deltas != 1 {
		t.Fatalf("after the full: %+v", o)
	}
	r, res := restoreChain(t, env, dest)
	if res.Revision != o.Delta.To {
		t.Fatalf("restored %+v", res)
	}
	if err := sameState(state(t, r.Client(t), 0), state(t, cli, o.Delta.To)); err != nil {
		t.Fatal(err)
	}
}

// stallProxy passes S3 requests through (SigV4 signs the Host header, which
// it keeps), except uploads to keys containing stall, which it holds until
// the test ends; seen is closed when the first one arrives.
func stallProxy(t *testing.T, s3 *testkit.S3Server, stall string) (endpoint string, seen chan struct{}) {
	t.Helper()
	target, _ := url.Parse(s3.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	seen, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPut || r.Method == http.MethodPost) && strings.Contains(r.URL.Path, stall) {
			once.Do(func() { close(seen) })
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(release); ts.Close() })
	return ts.URL, seen
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

// A run killed while uploading (a full snapshot, then a delta) leaves no
// object; the next run continues from what the bucket really holds.
func TestIncrementalKilledRun(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fill(t, cli, "/a/", 300, 1)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0")
	dest := "s3://" + bucket + "/k/"
	kill := func(stall string) {
		t.Helper()
		proxy, seen := stallProxy(t, s3, stall)
		p := startProc(t, append(env[:len(env):len(env)], "AWS_S3_ENDPOINT="+proxy), nil, "save", "--incremental", dest)
		select {
		case <-seen:
		case <-p.done:
			t.Fatalf("the run ended before its upload: %s", p.stderr.String())
		case <-time.After(30 * time.Second):
			t.Fatal("no upload within 30 s")
		}
		p.cmd.Process.Kill()
		p.wait(t)
	}
	kill(".db") // the full snapshot: PREFIX/YYYYMMDDTHHMMSS.mmmZ.db
	if keys := objectKeys(t, s3, bucket); len(keys) != 0 {
		t.Fatalf("a killed full snapshot left %v", keys)
	}
	full := saveIncr(t, env, dest)
	if full.Kind != "full" {
		t.Fatalf("after the killed full: %+v", full)
	}
	fill(t, cli, "/b/", 300, 2)
	kill("/k/delta/")
	if d := deltaNames(t, s3, bucket, "k/"); len(d) != 0 {
		t.Fatalf("a killed delta left %v", d)
	}
	fill(t, cli, "/c/", 100, 3)
	o := saveIncr(t, env, dest)
	if o.Kind != "delta" || o.Delta.From != full.Full.Revision+1 {
		t.Fatalf("after the killed delta: %+v, want a delta from %d", o, full.Full.Revision+1)
	}
	r, _ := restoreChain(t, env, dest)
	if err := sameState(state(t, r.Client(t), 0), state(t, cli, o.Delta.To)); err != nil {
		t.Fatal(err)
	}
}

// Bad chains: a missing delta, a delta from another cluster, a corrupted
// delta. Each is exit 1 with one line naming the problem, and no data dir.
func TestIncrementalBadChains(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	// Two clusters that went through the same writes: the same revisions,
	// so the other cluster's delta fits this chain's names.
	a := etcdtest.Embed(t, etcdtest.Options{})
	b := etcdtest.Embed(t, etcdtest.Options{})
	env := func(e *etcdtest.Embedded) []string {
		return append(s3.Env(), "ETCDCTL_ENDPOINTS="+e.Endpoint, "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0")
	}
	var last incrOut
	for i := 0; i < 4; i++ {
		for j, e := range []*etcdtest.Embedded{a, b} {
			fill(t, e.Client(t), fmt.Sprintf("/s%d/", i), 100, uint64(i))
			o := saveIncr(t, env(e), "s3://"+bucket+"/"+[]string{"a/", "b/"}[j])
			if j == 0 {
				last = o
			}
		}
	}
	da, db := deltaNames(t, s3, bucket, "a/"), deltaNames(t, s3, bucket, "b/")
	if len(da) != 3 || len(db) != 3 || da[1][:len("delta/000000000000-000000000000")] != db[1][:len("delta/000000000000-000000000000")] {
		t.Fatalf("deltas a %v, b %v", da, db)
	}
	c, err := s3client.New(mustConfig(t, s3))
	if err != nil {
		t.Fatal(err)
	}
	restore := func(what, want string) {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "r")
		_, errOut, code := run(t, env(a), nil, "restore", "s3://"+bucket+"/a/", "--to-revision", strconv.FormatInt(last.Delta.To, 10), "--data-dir", dir)
		if code != 1 || !strings.HasPrefix(lastLine(errOut), "etcd-backup restore: ") || !strings.Contains(lastLine(errOut), want) {
			t.Fatalf("%s: exit %d, stderr %q; want exit 1 and %q", what, code, errOut, want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%s: a data dir was left", what)
		}
	}
	// The middle delta of a, replaced by b's (same revisions, other cluster).
	middle := "a/" + da[1]
	var saved, foreign bytes.Buffer
	orig, err := c.Get(ctxT(t), bucket, middle, &saved)
	if err != nil {
		t.Fatal(err)
	}
	fo, err := c.Get(ctxT(t), bucket, "b/"+db[1], &foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctxT(t), bucket, middle, bytes.NewReader(foreign.Bytes()), s3client.PutOptions{Metadata: userMeta(fo.Metadata)}); err != nil {
		t.Fatal(err)
	}
	restore("a delta from another cluster", "cluster")
	// Corrupted: one byte of the stored delta changed on the server's disk.
	if _, err := c.Put(ctxT(t), bucket, middle, bytes.NewReader(saved.Bytes()), s3client.PutOptions{Metadata: userMeta(orig.Metadata)}); err != nil {
		t.Fatal(err)
	}
	path := s3.ObjectPath(bucket, middle)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x40
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	md, _ := chain.ParseDelta(da[1])
	restore("a corrupted delta", md.String()+" (2 of 3")
	// Missing.
	if err := c.Remove(ctxT(t), bucket, middle); err != nil {
		t.Fatal(err)
	}
	restore("a missing delta", fmt.Sprintf("no delta covers revisions %d to %d", md.From, md.To))
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

// gocron runs go-cron every second (under the etcd lock named incr when
// lockEtcd is set) with save --incremental as the job; its stdout (the
// job's results) is kept.
type gocron struct {
	id             string
	cmd            *exec.Cmd
	stdout, stderr *testkit.Buffer
	exited         chan struct{}
}

func startGocronIncr(t *testing.T, id, lockEtcd string, env []string, job ...string) *gocron {
	t.Helper()
	bin := testkit.Build(t, "cronbox/go-cron")
	args := []string{"--status-addr", "127.0.0.1:0", "--grace", "10s"}
	if lockEtcd != "" {
		args = append(args, "--lock-etcd", lockEtcd, "--lock-name", "incr", "--lock-instance", id, "--lock-ttl", "2s")
	}
	args = append(args, "* * * * * *", "--")
	g := &gocron{id: id, stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{}, exited: make(chan struct{})}
	g.cmd = exec.Command(bin, append(args, job...)...)
	g.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}, env...)
	g.cmd.Stdout, g.cmd.Stderr = g.stdout, g.stderr
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.cmd.Wait(); close(g.exited) }()
	t.Cleanup(func() {
		g.cmd.Process.Kill()
		<-g.exited
		if t.Failed() {
			t.Logf("go-cron %s %v\nstderr:\n%s\nstdout:\n%s", id, g.cmd.Args, g.stderr, g.stdout)
		}
	})
	return g
}

// runs counts the job results the instance printed.
func (g *gocron) runs() int { return strings.Count(g.stdout.String(), `"kind":`) }

func (g *gocron) stop(t *testing.T) {
	t.Helper()
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("go-cron %s did not stop within 30 s of SIGTERM", g.id)
	}
}

// Two replicas under go-cron's etcd lock, each running save --incremental
// every second while a workload writes: the deltas they write together
// never overlap and form one chain, which restores.
func TestIncrementalTwoReplicasUnderTheLock(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fill(t, cli, "/a/", 500, 1)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0")
	dest := "s3://" + bucket + "/locked/"
	ctx, stopLoad := context.WithCancel(context.Background())
	wg := workload(ctx, t, cli, 11, 5*time.Millisecond)
	defer func() { stopLoad(); wg.Wait() }()
	// The lock speaks etcd's JSON gateway, which the embedded test server
	// points at its unresolved client URL: the lock lives on Debian's etcd.
	lockEtcd := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 1}).Endpoints()[0]
	job := []string{testkit.Build(t, "cronbox/etcd-backup"), "save", "--incremental", dest}
	a := startGocronIncr(t, "a", lockEtcd, env, job...)
	b := startGocronIncr(t, "b", lockEtcd, env, job...)
	testkit.WaitFor(t, 60*time.Second, "6 runs between the replicas", func() error {
		if a.runs()+b.runs() >= 6 {
			return nil
		}
		return testkit.ErrNotYet
	})
	// Stop the replica that ran more; the other takes every slot after.
	busy, other := a, b
	if b.runs() > a.runs() {
		busy, other = b, a
	}
	busy.stop(t)
	n := other.runs()
	testkit.WaitFor(t, 60*time.Second, "3 runs on the remaining replica", func() error {
		if other.runs() >= n+3 {
			return nil
		}
		return testkit.ErrNotYet
	})
	other.stop(t)
	stopLoad()
	wg.Wait()
	t.Logf("runs: a %d, b %d", a.runs(), b.runs())
	if a.runs() == 0 || b.runs() == 0 {
		t.Fatalf("runs: a %d, b %d; want both", a.runs(), b.runs())
	}
	last := saveIncr(t, env, dest)
	var full int64
	for _, k := range objectKeys(t, s3, bucket) {
		if strings.HasPrefix(k, "locked/") && strings.HasSuffix(k, ".db") {
			if full != 0 {
				t.Fatalf("two full snapshots: %v", objectKeys(t, s3, bucket))
			}
			full = -1
		}
	}
	names := deltaNames(t, s3, bucket, "locked/")
	var ds []chain.Delta
	for _, n := range names {
		d, ok := chain.ParseDelta(n)
		if !ok {
			t.Fatalf("%s is not a delta name", n)
		}
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].From < ds[j].From })
	for i := 1; i < len(ds); i++ {
		if ds[i].From != ds[i-1].To+1 {
			t.Fatalf("deltas %s and %s overlap or leave a gap: %v", ds[i-1], ds[i], names)
		}
	}
	if len(ds) < 8 || last.Kind != "delta" || ds[len(ds)-1].To != last.Delta.To {
		t.Fatalf("%d deltas, last run %+v", len(ds), last)
	}
	r, res := restoreChain(t, env, dest)
	if res.Revision != last.Delta.To || res.Deltas != len(ds) {
		t.Fatalf("restored %+v, want revision %d from %d deltas", res, last.Delta.To, len(ds))
	}
	if err := sameState(state(t, r.Client(t), 0), state(t, cli, last.Delta.To)); err != nil {
		t.Fatal(err)
	}
}

// Cross-version: a chain of Debian's etcd 3.4 (whose snapshots record only
// a lower bound of their revision, and whose watch progress notifications
// are not relied on), restored by this build and served by etcd 3.7, at the
// full snapshot's recorded revision and inside deltas.
func TestIncrementalCrossVersion34(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	c := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 3})
	cli := c.Client(t)
	fill(t, cli, "/a/", 500, 1)
	eps := c.Endpoints()
	env := append(s3.Env(), "ETCD_ENDPOINTS="+strings.Join(eps, ","), "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0")
	dest := "s3://" + bucket + "/v34/"
	// Writes during the first full snapshot: its recorded revision (3.4's
	// status before the stream) may be below what it holds, which restore
	// then trims (replay's TestTrimAfter pins the trim itself).
	ctx, stop := context.WithCancel(context.Background())
	wg := workload(ctx, t, cli, 3, 0)
	waitRevision(t, cli, 600)
	var runs []incrOut
	for i := 0; i < 6; i++ {
		o := saveIncr(t, env, dest)
		runs = append(runs, o)
		waitRevision(t, cli, o.Chain.Revision+30)
	}
	stop()
	wg.Wait()
	runs = append(runs, saveIncr(t, env, dest))
	if runs[0].Kind != "full" {
		t.Fatalf("first run %+v", runs[0])
	}
	base := runs[0].Full.Revision
	last := runs[len(runs)-1]
	rnd := rand.New(rand.NewPCG(7, 7))
	mid := runs[3].Delta
	for _, rev := range []int64{base, mid.From + rnd.Int64N(mid.To-mid.From+1), last.Chain.Revision} {
		r, res := restoreChain(t, env, dest, "--to-revision", strconv.FormatInt(rev, 10))
		if res.Revision != rev {
			t.Fatalf("restore of %d: %+v", rev, res)
		}
		checkRestored(t, cli, r.Client(t), rev, base, rnd)
		r.Stop()
	}
}

// A cluster restored to an earlier revision with the same member and
// cluster IDs, which then wrote past the chain's newest revision: its
// history is not the chain's, and the next run takes a full snapshot
// instead of a delta that would chain onto the wrong history.
func TestIncrementalRestoredClusterStartsANewChain(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fill(t, cli, "/a/", 100, 1)
	env := append(s3.Env(), "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0")
	dest := "s3://" + bucket + "/r/"
	srcEnv := append(env[:len(env):len(env)], "ETCDCTL_ENDPOINTS="+src.Endpoint)
	saveIncr(t, srcEnv, dest)
	for i := 0; i < 10; i++ {
		if _, err := cli.Put(ctxT(t), fmt.Sprintf("/b/%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	d1 := saveIncr(t, srcEnv, dest)
	for i := 0; i < 10; i++ {
		if _, err := cli.Put(ctxT(t), fmt.Sprintf("/c/%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	d2 := saveIncr(t, srcEnv, dest)
	if d1.Kind != "delta" || d2.Kind != "delta" {
		t.Fatalf("runs %+v %+v", d1, d2)
	}
	// Restore the end of the first delta as the same member of the same cluster.
	src.Stop()
	dir := filepath.Join(t.TempDir(), "again")
	if _, _, code := run(t, env, nil, "restore", dest, "--to-revision", strconv.FormatInt(d1.Delta.To, 10), "--data-dir", dir,
		"--name", src.Name, "--initial-cluster", src.Name+"="+src.PeerURL, "--initial-advertise-peer-urls", src.PeerURL, "--initial-cluster-token", "etcdtest"); code != 0 {
		t.Fatal("restore failed")
	}
	again := etcdtest.Embed(t, etcdtest.Options{Dir: dir, Name: src.Name, PeerURL: src.PeerURL})
	acli := again.Client(t)
	againEnv := append(env[:len(env):len(env)], "ETCDCTL_ENDPOINTS="+again.Endpoint)
	// Behind the chain: a full snapshot.
	o := saveIncr(t, againEnv, dest)
	if o.Kind != "full" || !strings.Contains(o.Reason, "behind the chain") {
		t.Fatalf("behind the chain: %+v", o)
	}
	// A delta on the new chain, then the same story once more, now writing
	// past the chain's head before the run: the history check catches it.
	for i := 0; i < 5; i++ {
		acli.Put(ctxT(t), fmt.Sprintf("/d/%d", i), "v")
	}
	n1 := saveIncr(t, againEnv, dest)
	for i := 0; i < 5; i++ {
		acli.Put(ctxT(t), fmt.Sprintf("/e/%d", i), "v")
	}
	if n2 := saveIncr(t, againEnv, dest); n1.Kind != "delta" || n2.Kind != "delta" {
		t.Fatalf("new chain: %+v %+v", n1, n2)
	}
	again.Stop()
	dir2 := filepath.Join(t.TempDir(), "third")
	if _, _, code := run(t, env, nil, "restore", dest, "--to-revision", strconv.FormatInt(n1.Delta.To, 10), "--data-dir", dir2,
		"--name", src.Name, "--initial-cluster", src.Name+"="+src.PeerURL, "--initial-advertise-peer-urls", src.PeerURL, "--initial-cluster-token", "etcdtest"); code != 0 {
		t.Fatal("restore failed")
	}
	third := etcdtest.Embed(t, etcdtest.Options{Dir: dir2, Name: src.Name, PeerURL: src.PeerURL})
	tcli := third.Client(t)
	for i := 0; i < 20; i++ {
		tcli.Put(ctxT(t), fmt.Sprintf("/f/%d", i), "other history")
	}
	o = saveIncr(t, append(env[:len(env):len(env)], "ETCDCTL_ENDPOINTS="+third.Endpoint), dest)
	if o.Kind != "full" || !strings.Contains(o.Reason, "is not the chain's") {
		t.Fatalf("another history past the head: %+v", o)
	}
}

// Prune on a prefix with chains keeps whole chains: a kept point keeps its
// full snapshot and every delta before it; what no kept point needs goes.
func TestIncrementalPrune(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0", "ETCD_BACKUP_FULL_AFTER_DELTAS=2")
	dest := "s3://" + bucket + "/p/"
	var runs []incrOut
	for i := 0; i < 6; i++ { // full A, a1, a2, full B, b1, b2
		fill(t, cli, fmt.Sprintf("/%d/", i), 20, uint64(i))
		runs = append(runs, saveIncr(t, env, dest))
	}
	kinds := ""
	for _, o := range runs {
		kinds += o.Kind[:1]
	}
	if kinds != "fddfdd" {
		t.Fatalf("runs %s", kinds)
	}
	all := objectKeys(t, s3, bucket)
	// --keep-last counts full snapshots with their chains: both stay.
	out, _, code := run(t, env, nil, "prune", "--keep-last", "2", "--dry-run", dest)
	if code != 0 || strings.Contains(out, "would delete") || strings.Count(out, "keep s3://") != 6 {
		t.Fatalf("keep-last 2: exit %d\n%s", code, out)
	}
	// A period tier counts points in time: the newest of this hour is b2,
	// whose chain is B, b1, b2 (all six were taken within seconds, so
	// unless an hour turned between them, only that chain stays).
	if runs[0].Chain.Time.Truncate(time.Hour).Equal(runs[5].Chain.Time.Truncate(time.Hour)) {
		out, _, code = run(t, env, nil, "prune", "--keep-hourly", "1", "--dry-run", dest)
		if code != 0 || strings.Count(out, "would delete s3://") != 3 {
			t.Fatalf("keep-hourly 1: exit %d\n%s", code, out)
		}
	}
	out, _, code = run(t, env, nil, "prune", "--keep-last", "1", dest)
	if code != 0 || strings.Count(out, "delete s3://") != 3 {
		t.Fatalf("keep-last 1: exit %d\n%s", code, out)
	}
	left := objectKeys(t, s3, bucket)
	if len(all) != 6 || len(left) != 3 {
		t.Fatalf("before %v, after %v", all, left)
	}
	for _, k := range left {
		if !strings.Contains(runs[3].Full.Destination, k) && !strings.Contains(runs[4].Delta.Destination, k) && !strings.Contains(runs[5].Delta.Destination, k) {
			t.Fatalf("kept %s, want B, b1, b2", k)
		}
	}
	r, _ := restoreChain(t, env, dest)
	if err := sameState(state(t, r.Client(t), 0), state(t, cli, runs[5].Delta.To)); err != nil {
		t.Fatal(err)
	}
}

// Deltas are stored as full snapshots are: compressed, then encrypted
// (stock age and zstd read them back), and a restore without the identity
// fails with the codec's message and restores nothing.
func TestIncrementalCompressedEncrypted(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	key, recipient := ageKey(t)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0",
		"ETCD_BACKUP_COMPRESS=zstd", "ETCD_BACKUP_ENCRYPT_TO="+recipient)
	dest := "s3://" + bucket + "/enc/"
	fill(t, cli, "/a/", 300, 1)
	if o := saveIncr(t, env, dest); o.Kind != "full" || !strings.HasSuffix(o.Full.Destination, ".db.zst.age") {
		t.Fatalf("full: %+v", o.Full)
	}
	fill(t, cli, "/b/", 300, 2)
	o := saveIncr(t, env, dest)
	if o.Kind != "delta" || !strings.HasSuffix(o.Delta.Destination, ".delta.zst.age") {
		t.Fatalf("delta: %+v", o.Delta)
	}
	name := strings.TrimPrefix(o.Delta.Destination, "s3://"+bucket+"/")
	c, err := s3client.New(mustConfig(t, s3))
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	obj, err := c.Get(ctxT(t), bucket, name, &stored)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Metadata["cronbox-compression"] != "zstd" || obj.Metadata["cronbox-encryption"] != "age" || obj.Metadata["etcd-delta-from"] != strconv.FormatInt(o.Delta.From, 10) {
		t.Fatalf("metadata %v", obj.Metadata)
	}
	// Stock tools: age -d -i KEY | zstd -d gives the delta stream.
	age, zstd := testkit.Need(t, "age"), testkit.Need(t, "zstd")
	cmd := exec.Command("sh", "-c", `"$0" -d -i "$1" | "$2" -d`, age, key, zstd)
	cmd.Stdin = &stored
	plain, err := cmd.Output()
	if err != nil || !bytes.HasPrefix(plain, []byte("cronbox-etcd-delta v1\n")) {
		t.Fatalf("age | zstd: %v, %q", err, plain[:min(len(plain), 40)])
	}
	dir := filepath.Join(t.TempDir(), "r")
	_, errOut, code := run(t, env, nil, "restore", dest, "--data-dir", dir)
	if code != 1 || !strings.Contains(lastLine(errOut), "no identity") {
		t.Fatalf("restore without the identity: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("a failed restore left a data dir")
	}
	r, _ := restoreChain(t, append(env, "ETCD_BACKUP_IDENTITY_FILE="+key), dest)
	if err := sameState(state(t, r.Client(t), 0), state(t, cli, o.Delta.To)); err != nil {
		t.Fatal(err)
	}
}

// The image's job script in incremental mode: a full snapshot is verified
// and followed by prune; a delta (or nothing new) ends the run there.
func TestJobScriptIncremental(t *testing.T) {
	busybox := testkit.Need(t, "busybox")
	s3srv := testkit.Versitygw(t)
	bucket := s3srv.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	bin := t.TempDir()
	if err := os.Symlink(testkit.Build(t, "cronbox/etcd-backup"), filepath.Join(bin, "etcd-backup")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet != "sh" {
			os.Symlink(busybox, filepath.Join(bin, applet))
		}
	}
	script := filepath.Join(testkit.RepoRoot(t), "scripts", "etcd-backup")
	env := append(s3srv.Env(), "PATH="+bin, "AWS_S3_BUCKET="+bucket, "ETCD_ENDPOINTS="+src.Endpoint, "TMPDIR="+t.TempDir(),
		"ETCD_BACKUP_PREFIX=inc/", "ETCD_KEEP_LAST=1", "ETCD_MIN_KEEP=1", "ETCD_BACKUP_INCREMENTAL=true",
		"ETCD_BACKUP_FULL_AFTER_DELTAS=2", "ETCD_BACKUP_FULL_AFTER_BYTES=0", "ETCD_BACKUP_FULL_EVERY=off")
	job := func(i int) string {
		fill(t, cli, fmt.Sprintf("/%d/", i), 50, uint64(i))
		cmd := exec.Command(busybox, "sh", script)
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d of the job script: %v\n%s", i, err, b)
		}
		return string(b)
	}
	for i, want := range []string{"full", "delta", "delta", "full", "delta"} {
		out := job(i)
		verified := strings.Contains(out, "2/3 verify") && strings.Contains(out, "3/3 prune")
		if !strings.Contains(out, `"kind":"`+want+`"`) || verified != (want == "full") {
			t.Fatalf("run %d: want a %s (verify and prune after a full only):\n%s", i, want, out)
		}
	}
	// The last prune (run 3, keep-last 1) dropped the first chain.
	names := deltaNames(t, s3srv, bucket, "inc/")
	if len(names) != 1 {
		t.Fatalf("deltas left: %v", names)
	}
	r, res := restoreChain(t, s3srv.Env(), "s3://"+bucket+"/inc/")
	if err := sameState(state(t, r.Client(t), 0), state(t, cli, res.Revision)); err != nil || res.Deltas != 1 {
		t.Fatalf("restored %+v: %v", res, err)
	}
}

// Under go-cron, each run hands its chain to the status port through the
// job result: LastGood names the delta and shows the recovery point (the
// newest revision covered and its age), and /metrics has its time.
func TestIncrementalStatusPort(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fill(t, cli, "/a/", 100, 1)
	statusFile := filepath.Join(t.TempDir(), "status")
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0", "GOCRON_STATUS_FILE="+statusFile)
	ctx, stop := context.WithCancel(context.Background())
	wg := workload(ctx, t, cli, 13, 10*time.Millisecond)
	defer func() { stop(); wg.Wait() }()
	g := startGocronIncr(t, "solo", "", env, testkit.Build(t, "cronbox/etcd-backup"), "save", "--incremental", "s3://"+bucket+"/st/")
	type status struct {
		LastGood *struct {
			RecoveryPoint           string
			RecoveryPointAgeSeconds *int64
			Report                  struct {
				Kind     string `json:"kind"`
				Location string `json:"location"`
				Chain    *struct {
					Full         string    `json:"full"`
					FullRevision int64     `json:"full_revision"`
					Deltas       int       `json:"deltas"`
					Revision     int64     `json:"revision"`
					Time         time.Time `json:"time"`
				} `json:"chain"`
			}
		}
	}
	var st status
	var addr string
	testkit.WaitFor(t, 60*time.Second, "a delta on the status port", func() error {
		b, err := os.ReadFile(statusFile)
		if err != nil {
			return testkit.ErrNotYet
		}
		addr = strings.TrimSpace(string(b))
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		st = status{}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			return err
		}
		if g := st.LastGood; g == nil || g.Report.Kind != "etcd-delta" || g.Report.Chain == nil || g.Report.Chain.Deltas < 2 {
			return testkit.ErrNotYet
		}
		return nil
	})
	lg := st.LastGood
	c := lg.Report.Chain
	if !strings.Contains(lg.Report.Location, "/st/delta/") || !strings.HasSuffix(c.Full, ".db") || c.Revision <= c.FullRevision ||
		lg.RecoveryPoint != c.Time.UTC().Format(time.RFC3339) || lg.RecoveryPointAgeSeconds == nil {
		t.Fatalf("LastGood %+v, chain %+v", lg, c)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "gocron_recovery_point_timestamp_seconds ") {
		t.Fatalf("metrics:\n%s", body)
	}
	g.stop(t)
}

// A full snapshot the policy asks for does not hold the recovery point
// back: while it streams (slowed here by --rate-limit), the old chain gets
// a delta every --deltas-during-full; those deltas name the old full
// snapshot as their base, so the new chain starts cleanly at the new full
// snapshot's revision, and both restore.
func TestIncrementalDeltasDuringFull(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fillBig(t, cli, "/big/", 8, 256<<10) // 2 MiB: 4 s at --rate-limit 512K
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_FULL_EVERY=off", "ETCD_BACKUP_FULL_AFTER_BYTES=0",
		"ETCD_BACKUP_FULL_AFTER_DELTAS=2", "ETCD_BACKUP_DELTAS_DURING_FULL=300ms", "ETCD_BACKUP_RATE_LIMIT=512K")
	dest := "s3://" + bucket + "/d/"
	ctx, stop := context.WithCancel(context.Background())
	wg := workload(ctx, t, cli, 17, 5*time.Millisecond)
	defer func() { stop(); wg.Wait() }()
	var runs []incrOut
	for i := 0; i < 4; i++ {
		runs = append(runs, saveIncr(t, env, dest))
	}
	stop()
	wg.Wait()
	runs = append(runs, saveIncr(t, env, dest))
	kinds := ""
	for _, o := range runs {
		kinds += o.Kind[:1]
	}
	if kinds != "fddfd" {
		t.Fatalf("runs %s", kinds)
	}
	out, _, code := run(t, env, nil, "save", "--incremental", dest) // nothing new: unchanged
	if code != 0 || !strings.Contains(out, `"kind":"unchanged"`) {
		t.Fatalf("unchanged run: %s", out)
	}
	names := deltaNames(t, s3, bucket, "d/")
	oldBase := runs[0].Full.Revision
	var old []chain.Delta
	for _, n := range names {
		d, _ := chain.ParseDelta(n)
		if d.Base == oldBase {
			old = append(old, d)
		}
	}
	newFull := runs[3].Full.Revision
	// The policy's full (run 4) wrote deltas of the old chain while it streamed.
	during := runs[3].DuringFull
	if len(during) == 0 || len(old) != 2+len(during) || old[len(old)-1].To != during[len(during)-1].To || old[len(old)-1].To <= newFull {
		t.Fatalf("old chain deltas %v, written during the full %+v (new full at %d)", old, during, newFull)
	}
	for i := 1; i < len(old); i++ {
		if old[i].From != old[i-1].To+1 {
			t.Fatalf("old chain: %s after %s", old[i], old[i-1])
		}
	}
	if d := runs[4].Delta; d.From != newFull+1 || runs[4].Chain.FullRevision != newFull || runs[4].Chain.Deltas != 1 {
		t.Fatalf("the new chain's first delta: %+v, chain %+v", d, runs[4].Chain)
	}
	// Revisions the deltas written during the full cover: before the new
	// full snapshot's, through the old chain; after it, through whichever
	// newest chain reaches them.
	for _, rev := range []int64{during[0].From, old[len(old)-1].To} {
		r, res := restoreChain(t, env, dest, "--to-revision", strconv.FormatInt(rev, 10))
		if res.Revision != rev || (rev < newFull && res.FullRevision != oldBase) {
			t.Fatalf("restore of %d: %+v", rev, res)
		}
		if err := sameState(state(t, r.Client(t), 0), state(t, cli, rev)); err != nil {
			t.Fatal(err)
		}
		r.Stop()
	}
	r, res := restoreChain(t, env, dest)
	if res.FullRevision != newFull || res.Revision != runs[4].Delta.To {
		t.Fatalf("restore of the newest point: %+v", res)
	}
	if err := sameState(state(t, r.Client(t), 0), state(t, cli, res.Revision)); err != nil {
		t.Fatal(err)
	}
}
