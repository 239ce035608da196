package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cronbox/etcd-backup/chain"
	s3client "cronbox/gof3r/s3"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// End-to-end tests of save --incremental's choices and failures: a
// compaction forces a full snapshot, a killed run, compressed and
// encrypted chains, deltas while a full snapshot streams.

// Compaction of the chain's next revision forces a full snapshot, and the
// new chain restores.
func TestIncrementalCompactionForcesFull(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fill(t, cli, "/a/", 200, 1)
	env := deltasOnly(s3, "ETCDCTL_ENDPOINTS="+src.Endpoint)
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

// A run killed while uploading (a full snapshot, then a delta) leaves no
// object; the next run continues from what the bucket really holds.
func TestIncrementalKilledRun(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fill(t, cli, "/a/", 300, 1)
	env := deltasOnly(s3, "ETCDCTL_ENDPOINTS="+src.Endpoint)
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
