// Command incrbench measures incremental etcd backups for
// bench/etcd-incremental.sh (issue 20): while a workload writes -rate
// values of -value bytes a second for -duration, it runs
//
//   - full-every-minute: `etcd-backup save` to S3 every 60 s (the peer:
//     what Zalando weighed against etcd-backup-restore's deltas), and
//   - incremental: `etcd-backup save --incremental` every 10 s, with a full
//     snapshot every hour (so one, the first, in a 10-minute run),
//
// side by side against the same etcd, each run skipped while the previous
// one of its kind still runs (as go-cron does). Then it restores the newest
// point both ways, and replays the same deltas a second way (an embedded
// etcd server applying them as transactions) to compare with etcd-backup's
// bbolt replay. It prints one Markdown table.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"cronbox/codec"
	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/chain"
	"cronbox/etcd-backup/delta"
	"cronbox/gof3r/s3"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "incrbench:", err)
		os.Exit(1)
	}
}

type config struct {
	endpoint, bin, bucket, work string
	duration                    time.Duration
	rate, value, keys           int
}

func run() error {
	var c config
	flag.StringVar(&c.endpoint, "endpoint", "http://127.0.0.1:2379", "etcd client URL")
	flag.StringVar(&c.bin, "etcd-backup", "etcd-backup", "the etcd-backup binary")
	flag.StringVar(&c.bucket, "bucket", "bench", "S3 bucket (AWS_* variables say where and how)")
	flag.StringVar(&c.work, "work", os.TempDir(), "scratch directory")
	flag.DurationVar(&c.duration, "duration", 10*time.Minute, "how long the workload runs")
	flag.IntVar(&c.rate, "rate", 200, "writes per second")
	flag.IntVar(&c.value, "value", 1024, "bytes per value")
	flag.IntVar(&c.keys, "keys", 20000, "distinct keys the workload overwrites")
	flag.Parse()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()

	ctx, stop := context.WithTimeout(context.Background(), c.duration)
	defer stop()
	begin := time.Now()
	var wrote, failed atomic.Int64
	var wg sync.WaitGroup
	workload(ctx, cli, c, &wg, &wrote, &failed)
	var fulls, incrs []runResult
	var mu sync.Mutex
	var sched sync.WaitGroup
	sched.Add(2)
	go func() {
		defer sched.Done()
		every(ctx, time.Minute, func() {
			r := c.save("save", "s3://"+c.bucket+"/full/")
			mu.Lock()
			fulls = append(fulls, r)
			mu.Unlock()
		})
	}()
	go func() {
		defer sched.Done()
		every(ctx, 10*time.Second, func() {
			r := c.save("save", "--incremental", "--full-every", "1h", "--full-after-bytes", "0", "s3://"+c.bucket+"/incr/")
			mu.Lock()
			incrs = append(incrs, r)
			mu.Unlock()
		})
	}()
	sched.Wait()
	wg.Wait()
	elapsed := time.Since(begin)
	// The newest point, for the restores: one more run after the writes stopped.
	last := c.save("save", "--incremental", "--full-every", "1h", "--full-after-bytes", "0", "s3://"+c.bucket+"/incr/")
	if last.err != nil {
		return fmt.Errorf("last incremental run: %w", last.err)
	}
	for _, r := range append(append([]runResult{}, fulls...), incrs...) {
		if r.err != nil {
			return fmt.Errorf("a run failed: %w", r.err)
		}
	}

	rows := [][2]string{}
	add := func(k, v string, a ...any) { rows = append(rows, [2]string{k, fmt.Sprintf(v, a...)}) }
	load0 := loadavg()
	add("workload", "%d writes of %d B in %s (%.0f/s), %d failed", wrote.Load(), c.value, elapsed.Round(time.Second), float64(wrote.Load())/elapsed.Seconds(), failed.Load())

	fullBytes, fullN, _ := sum(fulls, "full")
	incrFull, _, _ := sum(incrs, "full")
	deltaBytes, deltaN, deltaMax := sum(incrs, "delta")
	unchanged := 0
	for _, r := range incrs {
		if r.Kind == "unchanged" {
			unchanged++
		}
	}
	add("full every minute: stored", "%s in %d snapshots (mean %s)", mib(fullBytes), fullN, mib(fullBytes/int64(max(fullN, 1))))
	add("incremental every 10 s: stored", "%s: 1 full snapshot of %s + %d deltas of %s (largest %s; %d runs found nothing new)", mib(incrFull+deltaBytes), mib(incrFull), deltaN, mib(deltaBytes), kib(deltaMax), unchanged)
	add("storage ratio, this run", "%.1f%% (incremental / full every minute)", 100*float64(incrFull+deltaBytes)/float64(max(fullBytes, 1)))
	perHourFull := float64(fullBytes) / float64(max(fullN, 1)) * 60
	perHourIncr := float64(incrFull) + float64(deltaBytes)/elapsed.Hours()
	add("storage ratio, per hour (steady state)", "%.1f%%: 60 fulls of the mean size (%s) vs one hourly full + an hour of deltas at this rate (%s)", 100*perHourIncr/perHourFull, mib(int64(perHourFull)), mib(int64(perHourIncr)))
	add("recovery point, incremental", "max %s after the first delta landed (%s counting the first full snapshot's own %s), median %s: the age of the newest covered revision just before each run lands",
		rp(incrs).steady, rp(incrs).max, dur(incrs, "full", 1), rp(incrs).median)
	add("recovery point, full every minute", "max %s after the second snapshot landed (%s counting the first), median %s", rp(fulls).steady, rp(fulls).max, rp(fulls).median)
	add("run time, incremental", "delta median %s, max %s; the full %s", dur(incrs, "delta", 0.5), dur(incrs, "delta", 1), dur(incrs, "full", 1))
	add("run time, full every minute", "median %s, max %s", dur(fulls, "full", 0.5), dur(fulls, "full", 1))
	add("etcd-backup peak RSS", "incremental runs %d MB (deltas %d MB), full-every-minute runs %d MB", maxRSS(incrs, "")>>10, maxRSS(incrs, "delta")>>10, maxRSS(fulls, "")>>10)

	// Restores of the newest point.
	peerFull := fulls[len(fulls)-1].Full.Destination
	rOurs, err := c.restore("ours", "s3://"+c.bucket+"/incr/")
	if err != nil {
		return err
	}
	rPeer, err := c.restore("peer", peerFull)
	if err != nil {
		return err
	}
	add("restore, incremental chain (bbolt replay)", "%.2f s, %d MB peak RSS: revision %d from 1 full + %d deltas (%d events)", rOurs.secs, rOurs.rss>>10, rOurs.out.Revision, rOurs.out.Deltas, rOurs.out.Events)
	add("restore, newest full-every-minute snapshot", "%.2f s, %d MB peak RSS (revision %d, up to a minute older)", rPeer.secs, rPeer.rss>>10, rPeer.out.Revision)
	emb, err := c.embeddedReplay(last)
	if err != nil {
		return fmt.Errorf("embedded replay: %w", err)
	}
	add("replay alternative: embedded etcd + txns", "%.2f s (%.2f s restore of the full + %.2f s replaying %d revisions as transactions, fsync off); the same %d keys: %v", emb.restore+emb.replay, emb.restore, emb.replay, emb.revisions, emb.keys, emb.same)
	same, n, err := c.compare(cli, rOurs, last.Chain.Revision)
	if err != nil {
		return err
	}
	add("restored chain equals etcd", "%v (%d keys at revision %d)", same, n, last.Chain.Revision)
	add("load average", "%s at the end (%s before the restores)", loadavg(), load0)

	fmt.Printf("| %-42s | %s |\n|%s|%s|\n", "incremental etcd backups", "", strings.Repeat("-", 44), strings.Repeat("-", 80))
	for _, r := range rows {
		fmt.Printf("| %-42s | %s |\n", r[0], r[1])
	}
	return nil
}

// workload writes c.rate values a second over c.keys keys until ctx ends.
func workload(ctx context.Context, cli *clientv3.Client, c config, wg *sync.WaitGroup, wrote, failed *atomic.Int64) {
	tokens := make(chan struct{}, 64)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			v := make([]byte, c.value)
			for range tokens {
				for i := range v {
					v[i] = byte(r.Uint32())
				}
				pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := cli.Put(pctx, fmt.Sprintf("/bench/small/%06d", r.IntN(c.keys)), string(v))
				cancel()
				if err != nil {
					failed.Add(1)
				} else {
					wrote.Add(1)
				}
			}
		}()
	}
	go func() {
		defer close(tokens)
		start := time.Now()
		sent := 0
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			due := int(time.Since(start).Seconds() * float64(c.rate))
			for ; sent < due; sent++ {
				select {
				case tokens <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
}

// every calls f at each multiple of d from now until ctx ends, skipping a
// slot while f still runs.
func every(ctx context.Context, d time.Duration, f func()) {
	busy := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case busy <- struct{}{}:
			wg.Add(1)
			go func() { defer wg.Done(); f(); <-busy }()
		default: // the previous run is still going: skipped
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type runResult struct {
	Kind string `json:"kind"`
	Full *struct {
		Destination string `json:"destination"`
		Size        int64  `json:"size"`
		Revision    int64  `json:"revision"`
	} `json:"full"`
	Delta *struct {
		Size int64 `json:"size"`
	} `json:"delta"`
	Chain struct {
		Revision int64     `json:"revision"`
		Time     time.Time `json:"time"`
	} `json:"chain"`
	// A plain save prints these at the top level.
	Destination string `json:"destination"`
	Size        int64  `json:"size"`
	Revision    int64  `json:"revision"`

	start, end time.Time
	rss        int64 // KiB
	err        error
}

func (c config) save(args ...string) runResult {
	r := runResult{start: time.Now()}
	out, rss, err := c.exec(args...)
	r.end, r.rss = time.Now(), rss
	if err != nil {
		r.err = err
		return r
	}
	if err := json.Unmarshal(out, &r); err != nil {
		r.err = fmt.Errorf("%s: %w", out, err)
		return r
	}
	if r.Kind == "" { // a plain save
		r.Kind = "full"
		r.Full = &struct {
			Destination string `json:"destination"`
			Size        int64  `json:"size"`
			Revision    int64  `json:"revision"`
		}{r.Destination, r.Size, r.Revision}
		r.Chain.Revision, r.Chain.Time = r.Revision, r.start
	}
	return r
}

// exec runs etcd-backup and returns its stdout and peak RSS in KiB.
func (c config) exec(args ...string) ([]byte, int64, error) {
	cmd := exec.Command(c.bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var rss int64
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss
		}
	}
	if err != nil {
		return nil, rss, fmt.Errorf("etcd-backup %s: %v: %s", strings.Join(args, " "), err, lastLine(errb.String()))
	}
	return out.Bytes(), rss, nil
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

func sum(rs []runResult, kind string) (total int64, n int, largest int64) {
	for _, r := range rs {
		var size int64
		switch {
		case kind == "full" && r.Kind == "full":
			size = r.Full.Size
		case kind == "delta" && r.Kind == "delta":
			size = r.Delta.Size
		default:
			continue
		}
		total += size
		n++
		largest = max(largest, size)
	}
	return total, n, largest
}

type rpStats struct{ max, steady, median time.Duration }

// rp is the age of the newest covered revision just before each run
// lands: the recovery point the schedule actually keeps.
func rp(rs []runResult) rpStats {
	sorted := append([]runResult(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].end.Before(sorted[j].end) })
	var ages []time.Duration
	var covered time.Time
	for _, r := range sorted {
		if !covered.IsZero() {
			ages = append(ages, r.end.Sub(covered))
		}
		covered = r.Chain.Time // (a run that found nothing new: as fresh as the run)
	}
	if len(ages) == 0 {
		return rpStats{}
	}
	// The first age includes the first full snapshot's own duration (it
	// covers the revision it started at): the steady state is the rest.
	var st rpStats
	for _, a := range ages[1:] {
		st.steady = max(st.steady, a)
	}
	sort.Slice(ages, func(i, j int) bool { return ages[i] < ages[j] })
	st.max, st.median = ages[len(ages)-1], ages[len(ages)/2]
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
	return rpStats{max: r(st.max), steady: r(st.steady), median: r(st.median)}
}

func dur(rs []runResult, kind string, q float64) time.Duration {
	var ds []time.Duration
	for _, r := range rs {
		if r.Kind == kind {
			ds = append(ds, r.end.Sub(r.start))
		}
	}
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[min(len(ds)-1, int(q*float64(len(ds))))].Round(10 * time.Millisecond)
}

func maxRSS(rs []runResult, kind string) int64 {
	var m int64
	for _, r := range rs {
		if kind == "" || r.Kind == kind {
			m = max(m, r.rss)
		}
	}
	return m
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
func kib(n int64) string { return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10)) }

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

type restoreResult struct {
	dir, peer string
	secs      float64
	rss       int64
	out       struct {
		Revision int64 `json:"revision"`
		Deltas   int   `json:"deltas"`
		Events   int64 `json:"events"`
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (c config) restore(name, src string) (restoreResult, error) {
	r := restoreResult{dir: filepath.Join(c.work, "restore-"+name), peer: fmt.Sprintf("http://127.0.0.1:%d", freePort())}
	start := time.Now()
	out, rss, err := c.exec("restore", src, "--data-dir", r.dir, "--name", "bench", "--initial-cluster", "bench="+r.peer, "--initial-advertise-peer-urls", r.peer)
	r.secs, r.rss = time.Since(start).Seconds(), rss
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(out, &r.out)
}

// startEmbedded serves a restored data dir.
func startEmbedded(dir, peer string, noFsync bool) (*embed.Etcd, string, error) {
	cfg := embed.NewConfig()
	cfg.Dir, cfg.Name = dir, "bench"
	cfg.LogLevel = "fatal" // its Close logs "server closed" errors by the dozen
	pu, _ := url.Parse(peer)
	cu, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.InitialCluster = "bench=" + peer
	cfg.UnsafeNoFsync = noFsync
	cfg.QuotaBackendBytes = 8 << 30
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", errors.New("not ready after 60 s")
	}
	return e, "http://" + e.Clients[0].Addr().String(), nil
}

// compare starts etcd on a restored dir and compares every key with the
// source at rev (the writes have stopped, so the source's current state).
func (c config) compare(src *clientv3.Client, r restoreResult, rev int64) (bool, int, error) {
	e, ep, err := startEmbedded(r.dir, r.peer, true)
	if err != nil {
		return false, 0, err
	}
	defer e.Close()
	return sameKeys(src, ep, rev)
}

func sameKeys(src *clientv3.Client, ep string, rev int64) (bool, int, error) {
	r, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return false, 0, err
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	want, err := src.Get(ctx, "", clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		return false, 0, err
	}
	got, err := r.Get(ctx, "", clientv3.WithPrefix())
	if err != nil {
		return false, 0, err
	}
	if got.Header.Revision != rev || len(got.Kvs) != len(want.Kvs) {
		return false, len(got.Kvs), nil
	}
	for i, kv := range want.Kvs {
		g := got.Kvs[i]
		if !bytes.Equal(g.Key, kv.Key) || !bytes.Equal(g.Value, kv.Value) || g.ModRevision != kv.ModRevision || g.CreateRevision != kv.CreateRevision || g.Version != kv.Version {
			return false, len(got.Kvs), nil
		}
	}
	return true, len(want.Kvs), nil
}

type embeddedResult struct {
	restore, replay float64
	revisions       int
	keys            int
	same            bool
}

// embeddedReplay is the alternative replay: restore the chain's full
// snapshot alone, serve it with an embedded etcd (fsync off, which favours
// it), and apply the deltas' events as one transaction per revision.
func (c config) embeddedReplay(last runResult) (embeddedResult, error) {
	var res embeddedResult
	cfg, err := s3.ConfigFromEnv(os.Getenv)
	if err != nil {
		return res, err
	}
	sc, err := s3.New(cfg)
	if err != nil {
		return res, err
	}
	st := backup.S3Store{C: sc}
	ctx := context.Background()
	objs, err := st.List(ctx, c.bucket, "incr/")
	if err != nil {
		return res, err
	}
	l := chain.Build(c.bucket, "incr/", objs)
	f := &l.Fulls[0]
	o, err := st.Stat(ctx, c.bucket, f.Key)
	if err != nil {
		return res, err
	}
	f.SetMetadata(o.Metadata)
	path := l.Longest(*f)
	start := time.Now()
	rr, err := c.restore("embedded", "s3://"+c.bucket+"/"+f.Key)
	if err != nil {
		return res, err
	}
	res.restore = time.Since(start).Seconds()
	start = time.Now()
	e, ep, err := startEmbedded(rr.dir, rr.peer, true)
	if err != nil {
		return res, err
	}
	defer e.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return res, err
	}
	defer cli.Close()
	head, err := cli.Get(ctx, "x")
	if err != nil {
		return res, err
	}
	held := head.Header.Revision // a 3.4 snapshot may hold more than its recorded revision
	for _, d := range path.Deltas {
		pr, pw := io.Pipe()
		go func() {
			_, err := st.Get(ctx, c.bucket, d.Key, pw)
			pw.CloseWithError(err)
		}()
		cr, err := codec.NewReader(pr, codec.ReadOptions{Expect: &d.Layers})
		if err != nil {
			return res, err
		}
		dr, err := delta.NewReader(cr)
		if err != nil {
			return res, err
		}
		var ops []clientv3.Op
		rev := int64(0)
		flush := func() error {
			if len(ops) == 0 {
				return nil
			}
			defer func() { ops = ops[:0] }()
			if rev <= held {
				return nil
			}
			t, err := cli.Txn(ctx).Then(ops...).Commit()
			if err != nil {
				return err
			}
			if t.Header.Revision != rev {
				return fmt.Errorf("replayed revision %d became %d", rev, t.Header.Revision)
			}
			res.revisions++
			return nil
		}
		for {
			rec, err := dr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return res, err
			}
			if rec.Event == nil {
				continue // the workload uses no leases
			}
			if rec.Event.Kv.ModRevision != rev {
				if err := flush(); err != nil {
					return res, err
				}
				rev = rec.Event.Kv.ModRevision
			}
			if rec.Event.Type == mvccpb.Event_DELETE {
				ops = append(ops, clientv3.OpDelete(string(rec.Event.Kv.Key)))
			} else {
				ops = append(ops, clientv3.OpPut(string(rec.Event.Kv.Key), string(rec.Event.Kv.Value)))
			}
		}
		if err := flush(); err != nil {
			return res, err
		}
		pr.Close()
	}
	res.replay = time.Since(start).Seconds()
	src, err := clientv3.New(clientv3.Config{Endpoints: []string{c.endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return res, err
	}
	defer src.Close()
	res.same, res.keys, err = sameKeys(src, ep, last.Chain.Revision)
	return res, err
}
