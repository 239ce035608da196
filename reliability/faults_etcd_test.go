package reliability

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"cronbox/gof3r/s3"
	"cronbox/reliability/faults"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// etcdKeys is how many keys the fault tests' etcd holds (2 KiB each: a
// snapshot of about 5 MB, long enough to be cut mid-stream).
const etcdKeys = 2000

func seedEtcd(t *testing.T, endpoint string) {
	t.Helper()
	cli := etcdtest.NewClient(t, endpoint)
	val := strings.Repeat("v", 2048)
	for i := 0; i < etcdKeys; i++ {
		if _, err := cli.Put(ctx(t), fmt.Sprintf("/data/%05d", i), val); err != nil {
			t.Fatal(err)
		}
	}
}

// restores checks that the backup at url verifies, restores into a fresh
// data dir, and that etcd started on it holds every key.
func restores(t *testing.T, o *outcome, env []string, url string) {
	t.Helper()
	if _, stderr, code := runTool(t, env, nil, "etcd-backup", "verify", url); code != 0 {
		o.partial(t, "a save that exited 0 does not verify: %s", stderr)
		return
	}
	dir := filepath.Join(t.TempDir(), "restored")
	peer := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	if _, stderr, code := runTool(t, env, nil, "etcd-backup", "restore", url, "--data-dir", dir, "--name", "r1",
		"--initial-cluster", "r1="+peer, "--initial-advertise-peer-urls", peer); code != 0 {
		o.lost(t, "restore of a verified backup failed: %s", stderr)
		return
	}
	e := etcdtest.Embed(t, etcdtest.Options{Dir: dir, Name: "r1", PeerURL: peer})
	resp, err := e.Client(t).Get(ctx(t), "/data/", clientv3WithPrefixCount()...)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != etcdKeys {
		o.lost(t, "restored etcd has %d keys under /data/, want %d", resp.Count, etcdKeys)
	}
}

type etcdCase struct {
	name      string
	etcdFault func(t *testing.T, p *faults.Proxy) // on the etcd side, before the run
	s3Fault   func(t *testing.T, p *faults.Proxy) (heal func())
	window    time.Duration
	args      []string
	good      bool
	reason    string
	// codec: the save encrypts (age) and, with "zstd+age", compresses
	// first; verify and restore open it with the identity alone.
	codec string
}

func TestFaultsEtcdBackup(t *testing.T) {
	cases := []etcdCase{
		{name: "etcd latency 50ms", good: true,
			etcdFault: func(t *testing.T, p *faults.Proxy) {
				p.Add(t, faults.Downstream, "latency", faults.Attrs{"latency": 50})
			}},
		{name: "etcd bandwidth 1 MB/s", good: true,
			etcdFault: func(t *testing.T, p *faults.Proxy) {
				p.Add(t, faults.Downstream, "bandwidth", faults.Attrs{"rate": 1000})
			}},
		{name: "etcd cut after 1 MiB of snapshot", reason: "etcd",
			etcdFault: func(t *testing.T, p *faults.Proxy) {
				p.Add(t, faults.Downstream, "limit_data", faults.Attrs{"bytes": 1 << 20})
			}},
		{name: "etcd down", reason: "127.0.0.1",
			etcdFault: func(t *testing.T, p *faults.Proxy) { p.Down(t) }},
		{name: "etcd black hole, save-timeout 3s", reason: "etcd",
			args: []string{"--save-timeout", "3s", "--dial-timeout", "1s", "--command-timeout", "1s"},
			etcdFault: func(t *testing.T, p *faults.Proxy) {
				p.Add(t, faults.Downstream, "timeout", faults.Attrs{"timeout": 0})
			}},
		{name: "S3 reset mid-upload 300ms", good: true, window: 300 * time.Millisecond,
			s3Fault: func(t *testing.T, p *faults.Proxy) func() {
				n := p.Add(t, faults.Upstream, "reset_peer", faults.Attrs{"timeout": 0})
				return func() { p.Remove(t, n) }
			}},
		{name: "S3 cut after 256 KiB on every connection", reason: "s3",
			s3Fault: func(t *testing.T, p *faults.Proxy) func() {
				p.Add(t, faults.Upstream, "limit_data", faults.Attrs{"bytes": 256 << 10})
				return nil
			}},
		{name: "S3 down mid-upload", reason: "s3",
			s3Fault: func(t *testing.T, p *faults.Proxy) func() { p.Down(t); return nil }},
		// Compressed and encrypted (issue 15): the same faults, the same ends.
		// The S3 cases encrypt only: the test's values (one letter repeated)
		// compress to a single small part, with no upload to cut.
		{name: "age: S3 reset mid-upload 300ms", good: true, window: 300 * time.Millisecond, codec: "age",
			s3Fault: func(t *testing.T, p *faults.Proxy) func() {
				n := p.Add(t, faults.Upstream, "reset_peer", faults.Attrs{"timeout": 0})
				return func() { p.Remove(t, n) }
			}},
		{name: "age: S3 down mid-upload", reason: "s3", codec: "age",
			s3Fault: func(t *testing.T, p *faults.Proxy) func() { p.Down(t); return nil }},
		{name: "zstd+age: etcd cut after 1 MiB of snapshot", reason: "etcd", codec: "zstd+age",
			etcdFault: func(t *testing.T, p *faults.Proxy) {
				p.Add(t, faults.Downstream, "limit_data", faults.Attrs{"bytes": 1 << 20})
			}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := track(t, "faults: etcd-backup")
			st := newStore(t)
			e := etcdtest.Embed(t, etcdtest.Options{})
			seedEtcd(t, e.Endpoint)
			// A good backup from before: no failure may touch it.
			env := st.env(st.srv.Endpoint)
			// Backup names are what prune considers: the job script's timestamps.
			prev := "s3://" + st.bucket + "/etcd/20260101T000000Z.db"
			if _, _, code := runTool(t, env, nil, "etcd-backup", "save", "--endpoints", e.Endpoint, prev); code != 0 {
				t.Fatal("seed backup failed")
			}
			ep := faults.New(t, strings.TrimPrefix(e.Endpoint, "http://"))
			sp := faults.New(t, st.srv.Host)
			sp.Add(t, faults.Upstream, "bandwidth", faults.Attrs{"rate": 4000})
			if c.etcdFault != nil {
				c.etcdFault(t, ep)
			}
			key := fmt.Sprintf("etcd/20261127T%06dZ.db", 100000+i)
			var extra []string
			if c.codec != "" {
				id, err := age.GenerateX25519Identity()
				if err != nil {
					t.Fatal(err)
				}
				c.args = append(c.args, "--encrypt-to", id.Recipient().String())
				if c.codec == "zstd+age" {
					key += ".zst"
					c.args = append(c.args, "--compress", "zstd")
				}
				key += ".age"
				extra = append(extra, "ETCD_BACKUP_IDENTITY="+id.String())
				env = append(env, extra...)
			}
			url := "s3://" + st.bucket + "/" + key
			args := append([]string{"save", "--endpoints", ep.URL(), url}, c.args...)
			began := time.Now()
			proc := start(t, append(st.env(sp.URL()), extra...), nil, "etcd-backup", args...)
			if c.s3Fault != nil {
				st.waitUpload(t, proc)
				if heal := c.s3Fault(t, sp); heal != nil {
					time.AfterFunc(c.window, heal)
				}
			}
			code := proc.wait(t)
			stderr := proc.stderr.String()
			if c.good {
				if code != 0 {
					t.Fatalf("transient fault failed the save: exit %d", code)
				}
				restores(t, o, env, url)
			} else {
				if code == 0 {
					restores(t, o, env, url)
					t.Fatal("a permanent fault did not fail the save")
				}
				if code != 1 {
					t.Errorf("exit %d, want 1", code)
				}
				if !strings.Contains(strings.ToLower(stderr), c.reason) {
					t.Errorf("stderr does not name %q: %s", c.reason, stderr)
				}
				if d := time.Since(began); d > 90*time.Second {
					t.Errorf("the failure took %s", d)
				}
				st.clean(t, o, key, c.s3Fault == nil)
			}
			// Retention after the fault, with a newer backup that is broken (a
			// truncated copy): keep-last 1 may keep the broken one by name, but
			// a backup that verifies must survive.
			var prevBytes bytes.Buffer
			if _, err := st.c.Get(ctx(t), st.bucket, "etcd/20260101T000000Z.db", &prevBytes); err != nil {
				o.lost(t, "the previous good backup is gone after the fault: %v", err)
				return
			}
			if _, err := st.c.Put(ctx(t), st.bucket, "etcd/20991231T000000Z.db", bytes.NewReader(prevBytes.Bytes()[:prevBytes.Len()/2]), s3.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, _, code := runTool(t, env, nil, "etcd-backup", "prune", "--keep-last", "1", "--prefix", "etcd/", "s3://"+st.bucket+"/etcd/"); code != 0 {
				t.Errorf("prune failed")
			}
			objs, err := st.c.List(ctx(t), st.bucket, "etcd/")
			if err != nil {
				t.Fatal(err)
			}
			verified := 0
			var left []string
			for _, obj := range objs {
				left = append(left, obj.Key)
				if _, _, code := runTool(t, env, nil, "etcd-backup", "verify", "s3://"+st.bucket+"/"+obj.Key); code == 0 {
					verified++
				}
			}
			t.Logf("after prune --keep-last 1: %v, %d verify", left, verified)
			if verified == 0 {
				o.lost(t, "prune left no backup that verifies: %v", left)
			}
		})
	}
}
