package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cronbox/etcd-backup/chain"
	s3client "cronbox/gof3r/s3"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// End-to-end tests of chains that are not simple: damaged or foreign
// ones, a cluster restored from one, etcd 3.4, and prune.

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
		return deltasOnly(s3, "ETCDCTL_ENDPOINTS="+e.Endpoint)
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
	env := deltasOnly(s3)
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
	again, _ := restoreMember(t, env, dest, src.Name, src.PeerURL,
		"--to-revision", strconv.FormatInt(d1.Delta.To, 10), "--initial-cluster-token", "etcdtest")
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
	third, _ := restoreMember(t, env, dest, src.Name, src.PeerURL,
		"--to-revision", strconv.FormatInt(n1.Delta.To, 10), "--initial-cluster-token", "etcdtest")
	tcli := third.Client(t)
	for i := 0; i < 20; i++ {
		tcli.Put(ctxT(t), fmt.Sprintf("/f/%d", i), "other history")
	}
	o = saveIncr(t, append(env[:len(env):len(env)], "ETCDCTL_ENDPOINTS="+third.Endpoint), dest)
	if o.Kind != "full" || !strings.Contains(o.Reason, "is not the chain's") {
		t.Fatalf("another history past the head: %+v", o)
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
	env := deltasOnly(s3, "ETCD_ENDPOINTS="+strings.Join(eps, ","))
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
