package main

// End-to-end tests: the real etcd-backup binary against real etcd (embedded
// v3.7.3 and Debian's 3.4 as a 3-node process cluster) and a real S3 server
// (versitygw).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// run runs the binary with a clean environment plus env, and returns its
// stdout, stderr and exit status.
func run(t *testing.T, env []string, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	p := startProc(t, env, stdin, args...)
	code := p.wait(t)
	return p.stdout.String(), p.stderr.String(), code
}

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *testkit.Buffer
	done           chan struct{}
}

func startProc(t *testing.T, env []string, stdin []byte, args ...string) *proc {
	t.Helper()
	bin := testkit.Build(t, "cronbox/etcd-backup")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}, env...)
	p := &proc{cmd: cmd, stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	return p
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	<-p.done
	code := p.cmd.ProcessState.ExitCode()
	t.Logf("etcd-backup %s -> %d\nstderr: %s", strings.Join(p.cmd.Args[1:], " "), code, p.stderr.String())
	return code
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fill writes n keys with values of mixed sizes (empty, small, 4 KiB,
// 64 KiB; some not UTF-8) in transactions of 100, and returns them.
func fill(t *testing.T, cli *clientv3.Client, prefix string, n int, seed uint64) map[string][]byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 42))
	want := make(map[string][]byte, n)
	var ops []clientv3.Op
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := cli.Txn(ctxT(t)).Then(ops...).Commit(); err != nil {
			t.Fatalf("fill: %v", err)
		}
		ops = ops[:0]
	}
	for i := 0; i < n; i++ {
		size := r.IntN(512)
		switch {
		case i%1000 == 7:
			size = 64 << 10
		case i%100 == 3:
			size = 4 << 10
		case i%50 == 1:
			size = 0
		}
		v := make([]byte, size)
		for j := range v {
			v[j] = byte('a' + r.IntN(26))
		}
		if i%7 == 0 && size > 2 {
			v[0], v[1] = 0xff, 0x00 // not UTF-8
		}
		k := fmt.Sprintf("%s%05d/%x", prefix, i, r.Uint32())
		want[k] = v
		ops = append(ops, clientv3.OpPut(k, string(v)))
		if len(ops) == 100 {
			flush()
		}
	}
	flush()
	return want
}

// fillBig writes n values of size bytes each.
func fillBig(t *testing.T, cli *clientv3.Client, prefix string, n, size int) {
	t.Helper()
	v := strings.Repeat("x", size)
	for i := 0; i < n; i++ {
		if _, err := cli.Put(ctxT(t), fmt.Sprintf("%s%04d", prefix, i), v); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
}

// equalKeys checks that the keys under prefix are exactly want.
func equalKeys(t *testing.T, cli *clientv3.Client, prefix string, want map[string][]byte) {
	t.Helper()
	resp, err := cli.Get(ctxT(t), prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != len(want) {
		t.Fatalf("%d keys under %q, want %d", len(resp.Kvs), prefix, len(want))
	}
	for _, kv := range resp.Kvs {
		w, ok := want[string(kv.Key)]
		if !ok || !bytes.Equal(w, kv.Value) {
			t.Fatalf("key %q: got %d bytes, want %d bytes (present %v)", kv.Key, len(kv.Value), len(w), ok)
		}
	}
}

type saveOut struct {
	Destination string `json:"destination"`
	Endpoint    string `json:"endpoint"`
	MemberID    string `json:"member_id"`
	Version     string `json:"etcd_version"`
	Revision    int64  `json:"revision"`
	Size        int64  `json:"size"`
	StoredSize  int64  `json:"stored_size"`
	SHA256      string `json:"sha256"`
	ClusterID   string `json:"cluster_id"`
	Compression string `json:"compression"`
	Encrypted   bool   `json:"encrypted"`
}

func parseSave(t *testing.T, stdout string) saveOut {
	t.Helper()
	var s saveOut
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &s); err != nil {
		t.Fatalf("save output %q: %v", stdout, err)
	}
	return s
}

type verifyOut struct {
	SHA256   string            `json:"sha256"`
	Recorded string            `json:"sha256_stored"`
	Checksum string            `json:"checksum_stored"`
	Revision int64             `json:"revision"`
	Keys     int               `json:"keys"`
	Entries  int               `json:"bolt_entries"`
	Checked  bool              `json:"contents_checked"`
	Encrypt  bool              `json:"encrypted"`
	Compress string            `json:"compression"`
	Metadata map[string]string `json:"metadata"`
}

func parseVerify(t *testing.T, stdout string) verifyOut {
	t.Helper()
	var v verifyOut
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &v); err != nil {
		t.Fatalf("verify output %q: %v", stdout, err)
	}
	return v
}

// objectKeys lists the regular files (objects) under bucket on the S3 server's disk.
func objectKeys(t *testing.T, s3 *testkit.S3Server, bucket string) []string {
	t.Helper()
	var keys []string
	root := filepath.Join(s3.Dir, bucket)
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	return keys
}

// jobScriptPath is a PATH directory for the job script as the image runs
// it: the etcd-backup binary and busybox's applets (date, sed, ...). The
// tests run the script with busybox sh themselves.
func jobScriptPath(t *testing.T, busybox string) string {
	t.Helper()
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
	return bin
}

// restoreAndStart restores src into a fresh data dir and starts an embedded
// etcd on it.
func restoreAndStart(t *testing.T, env []string, src string, extra ...string) (*etcdtest.Embedded, string) {
	t.Helper()
	return restoreMember(t, env, src, "r1", fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t)), extra...)
}

// restoreMember restores src into a fresh data dir as the member name with
// the peer URL peer (a single-member cluster), and starts an embedded etcd
// on it.
func restoreMember(t *testing.T, env []string, src, name, peer string, extra ...string) (*etcdtest.Embedded, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	args := append([]string{"restore", src, "--data-dir", dir, "--name", name,
		"--initial-cluster", name + "=" + peer, "--initial-advertise-peer-urls", peer}, extra...)
	out, _, code := run(t, env, nil, args...)
	if code != 0 {
		t.Fatalf("restore exit %d", code)
	}
	return etcdtest.Embed(t, etcdtest.Options{Dir: dir, Name: name, PeerURL: peer}), out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// Usage and configuration errors exit 2 with one line naming the problem.
func TestUsage(t *testing.T) {
	dir := t.TempDir()
	garbage, missing := filepath.Join(dir, "garbage.pem"), filepath.Join(dir, "missing")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"frobnicate"}, nil, "unknown command"},
		{[]string{"save", "--no-such-flag"}, nil, "no-such-flag"},
		{[]string{"save"}, nil, "AWS_S3_BUCKET"},
		{[]string{"save", "http://x/y"}, nil, "s3://"},
		{[]string{"save", "-", "--dial-timeout", "soon"}, nil, "--dial-timeout"},
		{[]string{"save", "-"}, []string{"ETCDCTL_DIAL_TIMEOUT=soon"}, "ETCDCTL_DIAL_TIMEOUT"},
		{[]string{"save", "-", "--cert", "/nonexistent"}, nil, "--cert"},
		{[]string{"save", "-", "--endpoints", "not a url"}, nil, "not a url"},
		{[]string{"save", "-", "--endpoints", "http://a:2379,ftp://b:2379"}, nil, "ftp://b:2379"},
		{[]string{"save", "-", "--endpoints", "etcd1:99999"}, nil, "etcd1:99999"},
		{[]string{"save", "-"}, []string{"ETCD_LEADER=http://"}, "ETCD_LEADER"},
		{[]string{"save", "-", "--cacert", garbage}, nil, garbage},
		{[]string{"save", "-", "--cert", garbage, "--key", garbage}, nil, garbage},
		{[]string{"save", "-", "--password-file", missing}, nil, missing},
		{[]string{"save", "-", "--password-file", garbage}, nil, "--user"},
		{[]string{"save", "-", "--user", "root", "--password-file", missing}, nil, missing},
		{[]string{"save", "s3://b/k", "--s3-part-size", "1K"}, nil, "s3-part-size"},
		{[]string{"save", "s3://b/k"}, []string{"ETCD_BACKUP_S3_PART_SIZE=4M"}, "ETCD_BACKUP_S3_PART_SIZE"},
		{[]string{"verify"}, nil, "source"},
		{[]string{"verify", "s3://bkt/prefix/"}, nil, "prefix"},
		{[]string{"restore", "x.db"}, nil, "--data-dir"},
		{[]string{"restore", "x.db", "--data-dir", "d", "--bump-revision", "5"}, nil, "--mark-compacted"},
		{[]string{"save", "s3://b/k"}, []string{"AWS_ACCESS_KEY_ID=x"}, "AWS_SECRET_ACCESS_KEY"},
	} {
		_, errOut, code := run(t, tc.env, nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", tc.args, code, errOut, tc.want)
		}
	}
	out, _, code := run(t, nil, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "etcd-backup ") {
		t.Errorf("--version: %d %q", code, out)
	}
	if _, _, code := run(t, nil, nil, "save", "--help"); code != 0 {
		t.Errorf("save --help: exit %d", code)
	}
}
