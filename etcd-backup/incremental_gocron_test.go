package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/etcd-backup/chain"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// End-to-end tests of incremental backups as the image runs them: under
// go-cron (two replicas and the lock, the status port) and through
// scripts/etcd-backup.

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
	env := deltasOnly(s3, "ETCDCTL_ENDPOINTS="+src.Endpoint)
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

// The image's job script in incremental mode: a full snapshot is verified
// and followed by prune; a delta (or nothing new) ends the run there.
func TestJobScriptIncremental(t *testing.T) {
	busybox := testkit.Need(t, "busybox")
	s3srv := testkit.Versitygw(t)
	bucket := s3srv.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	bin := jobScriptPath(t, busybox)
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
