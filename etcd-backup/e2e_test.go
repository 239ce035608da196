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
	"sync"
	"syscall"
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
	stdout, stderr *syncBuf
	done           chan struct{}
}

func startProc(t *testing.T, env []string, stdin []byte, args ...string) *proc {
	t.Helper()
	bin := testkit.Build(t, "cronbox/etcd-backup")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}, env...)
	p := &proc{cmd: cmd, stdout: &syncBuf{}, stderr: &syncBuf{}, done: make(chan struct{})}
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

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuf) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
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

// restoreAndStart restores src into a fresh data dir and starts an embedded
// etcd on it.
func restoreAndStart(t *testing.T, env []string, src string, extra ...string) (*etcdtest.Embedded, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	peer := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	args := append([]string{"restore", src, "--data-dir", dir, "--name", "r1",
		"--initial-cluster", "r1=" + peer, "--initial-advertise-peer-urls", peer}, extra...)
	out, _, code := run(t, env, nil, args...)
	if code != 0 {
		t.Fatalf("restore exit %d", code)
	}
	return etcdtest.Embed(t, etcdtest.Options{Dir: dir, Name: "r1", PeerURL: peer}), out
}

// The drill: 10k keys of mixed sizes; save to S3, verify, restore into a
// fresh data dir, start etcd on it, every key, value and the revision equal.
func TestDrill(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "backups")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	want := fill(t, cli, "/drill/", 10000, 1)
	if _, err := cli.Put(ctxT(t), "/other/x", "y"); err != nil {
		t.Fatal(err)
	}
	head, err := cli.Get(ctxT(t), "/other/x")
	if err != nil {
		t.Fatal(err)
	}
	rev := head.Header.Revision
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "AWS_S3_BUCKET="+bucket)

	out, errOut, code := run(t, env, nil, "save", "--progress", "1ms")
	if code != 0 || !strings.Contains(errOut, "msg=progress") {
		t.Fatalf("save exit %d, or no progress lines", code)
	}
	saved := parseSave(t, out)
	if !strings.HasPrefix(saved.Destination, "s3://backups/etcd-backup/20") || saved.Revision != rev || saved.Size%512 != 32 || len(saved.SHA256) != 64 {
		t.Fatalf("save result %+v, want revision %d under s3://backups/etcd-backup/", saved, rev)
	}
	if keys := objectKeys(t, s3, bucket); len(keys) != 1 || "s3://backups/"+keys[0] != saved.Destination {
		t.Fatalf("objects in the bucket: %v", keys)
	}

	out, _, code = run(t, env, nil, "verify", "-w", "json", saved.Destination)
	if code != 0 {
		t.Fatalf("verify exit %d", code)
	}
	v := parseVerify(t, out)
	if v.Revision != rev || v.Keys != len(want)+1 || v.SHA256 != saved.SHA256 || (v.Recorded != saved.SHA256 && !strings.HasPrefix(v.Checksum, "CRC64NVME FULL_OBJECT")) {
		t.Fatalf("verify %+v, want revision %d, %d keys, sha %s", v, rev, len(want)+1, saved.SHA256)
	}
	if v.Metadata["etcd-revision"] != fmt.Sprint(rev) || v.Metadata["etcd-member-id"] != saved.MemberID || v.Metadata["etcd-version"] == "" {
		t.Fatalf("metadata %v", v.Metadata)
	}
	out, _, code = run(t, env, nil, "verify", saved.Destination)
	if code != 0 || !strings.Contains(out, fmt.Sprintf(", %d, %d, ", rev, len(want)+1)) || !strings.Contains(out, "not compressed, not encrypted") {
		t.Fatalf("verify simple output (exit %d): %q", code, out)
	}

	restored, _ := restoreAndStart(t, env, saved.Destination)
	rcli := restored.Client(t)
	equalKeys(t, rcli, "/drill/", want)
	g, err := rcli.Get(ctxT(t), "/other/x")
	if err != nil || len(g.Kvs) != 1 || g.Header.Revision != rev {
		t.Fatalf("restored /other/x: %v (revision %d, want %d)", err, g.Header.Revision, rev)
	}

	// Kubernetes-style restore: revision bumped and compacted.
	bumped, _ := restoreAndStart(t, env, saved.Destination, "--bump-revision", "1000", "--mark-compacted")
	bcli := bumped.Client(t)
	g, err = bcli.Get(ctxT(t), "/other/x")
	if err != nil || g.Header.Revision != rev+1000 {
		t.Fatalf("bumped restore: revision %d, want %d (%v)", g.Header.Revision, rev+1000, err)
	}
	if _, err := bcli.Get(ctxT(t), "/other/x", clientv3.WithRev(rev)); err == nil || !strings.Contains(err.Error(), "compacted") {
		t.Fatalf("old revision on a --mark-compacted restore: %v, want compacted", err)
	}
}

// A file destination and stdout give the same, verifiable snapshot.
func TestSaveFileAndStdout(t *testing.T) {
	src := etcdtest.Embed(t, etcdtest.Options{})
	want := fill(t, src.Client(t), "/f/", 500, 2)
	env := []string{"ETCDCTL_ENDPOINTS=" + src.Endpoint}
	dir := t.TempDir()
	path := filepath.Join(dir, "snap.db")
	out, _, code := run(t, env, nil, "save", path)
	if code != 0 {
		t.Fatalf("save to file: exit %d", code)
	}
	saved := parseSave(t, out)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 { // snap.db and snap.db.sha256, no temporary left
		t.Fatalf("dir holds %v", entries)
	}
	// Two snapshots of an idle member hold the same keys and revision (their
	// bytes may differ: the backend's own bookkeeping moves).
	stdout, _, code := run(t, env, nil, "save", "-")
	if code != 0 {
		t.Fatal("save to stdout failed")
	}
	fileBytes, _ := os.ReadFile(path)
	if int64(len(fileBytes)) != saved.Size {
		t.Fatalf("file has %d bytes, save said %d", len(fileBytes), saved.Size)
	}
	out, _, code = run(t, nil, []byte(stdout), "verify", "-w", "json", "-")
	fromStdout := parseVerify(t, out)
	out, _, code2 := run(t, nil, nil, "verify", "-w", "json", path)
	fromFile := parseVerify(t, out)
	if code != 0 || code2 != 0 || fromStdout.Revision != saved.Revision || fromFile.Revision != saved.Revision ||
		fromFile.Keys != len(want) || fromStdout.Keys != len(want) || fromFile.Recorded != saved.SHA256 {
		t.Fatalf("verify: stdout copy %+v (exit %d), file %+v (exit %d); saved %+v", fromStdout, code, fromFile, code2, saved)
	}
	r, _ := restoreAndStart(t, nil, path)
	equalKeys(t, r.Client(t), "/f/", want)

	// A damaged file fails verify, and so does a damaged .sha256 record.
	bad := bytes.Clone(fileBytes)
	bad[len(bad)/2] ^= 0x40
	badPath := filepath.Join(dir, "bad.db")
	os.WriteFile(badPath, bad, 0o600)
	if _, errOut, code := run(t, nil, nil, "verify", badPath); code != 1 || !strings.Contains(errOut, "trailer") {
		t.Fatalf("verify of a damaged file: exit %d, %q", code, errOut)
	}
	os.WriteFile(path+".sha256", []byte(strings.Repeat("0", 64)+"  snap.db\n"), 0o644)
	if _, _, code := run(t, nil, nil, "verify", path); code != 1 {
		t.Fatalf("verify against a wrong .sha256: exit %d, want 1", code)
	}
}

// Cross-version: a Debian etcd 3.4 cluster, reached through the original
// image's ETCD_MACHINES form, saved to S3, restored by etcdutl 3.7 and
// served by etcd 3.7.
func TestCrossVersion34Cluster(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	c := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 3})
	want := fill(t, c.Client(t), "/v34/", 2000, 3)
	eps := c.Endpoints()
	env := append(s3.Env(), `ETCD_MACHINES="`+eps[1]+","+eps[2]+`"`, "ETCD_LEADER="+eps[0])
	out, _, code := run(t, env, nil, "save", "s3://"+bucket+"/cluster/")
	if code != 0 {
		t.Fatalf("save exit %d", code)
	}
	saved := parseSave(t, out)
	if !strings.HasPrefix(saved.Version, "3.4.") || saved.Endpoint != eps[0] {
		t.Fatalf("saved %+v: want etcd 3.4 from ETCD_LEADER %s", saved, eps[0])
	}
	// etcd 3.4 sends no header with the snapshot: the cluster ID comes from
	// the member's status, taken just before (issue 14 item 13).
	out, _, code = run(t, env, nil, "verify", "-w", "json", saved.Destination)
	if v := parseVerify(t, out); code != 0 || saved.ClusterID == "" || v.Metadata["etcd-cluster-id"] != saved.ClusterID {
		t.Fatalf("verify exit %d; cluster id saved %q, recorded %q", code, saved.ClusterID, v.Metadata["etcd-cluster-id"])
	}
	r, _ := restoreAndStart(t, env, saved.Destination)
	equalKeys(t, r.Client(t), "/v34/", want)
}

// A member killed during the save: the save either moves to a healthy
// member and stores a backup that verifies, or exits 1 with nothing under
// the key. Never a partial object.
func TestMemberKilledDuringSave(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	c := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 3})
	fill(t, c.Client(t), "/k/", 3000, 4)
	eps := c.Endpoints()
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+strings.Join(eps, ","))
	key := "s3://" + bucket + "/killed.db"
	// The rate limit keeps the stream open long enough to kill its member.
	p := startProc(t, env, nil, "save", "--rate-limit", "1M", "--progress", "50ms", key)
	testkit.WaitFor(t, 30*time.Second, "the save to stream from member 0", func() error {
		if strings.Contains(p.stderr.String(), "msg=progress") {
			return nil
		}
		return testkit.ErrNotYet
	})
	if !strings.Contains(p.stderr.String(), "endpoint="+eps[0]) {
		t.Fatalf("save did not start on member 0: %s", p.stderr.String())
	}
	c.Kill(t, 0)
	code := p.wait(t)
	switch code {
	case 0:
		saved := parseSave(t, p.stdout.String())
		if saved.Endpoint == eps[0] {
			t.Fatalf("the save claims success from the killed member: %+v", saved)
		}
		if _, _, code := run(t, env, nil, "verify", key); code != 0 {
			t.Fatal("the backup taken after the kill does not verify")
		}
		t.Logf("save moved to %s", saved.Endpoint)
	case 1:
		if keys := objectKeys(t, s3, bucket); len(keys) != 0 {
			t.Fatalf("failed save left objects: %v", keys)
		}
	default:
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(p.stderr.String(), eps[0]) {
		t.Fatal("stderr does not name the killed member")
	}
}

// Wrong credentials name the endpoint and the cause; right ones work,
// with the password from a variable or a file, never required on the
// command line.
func TestAuth(t *testing.T) {
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	ctx := ctxT(t)
	if _, err := cli.UserAdd(ctx, "root", "s3cret-root"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("s3cret-root\n"), 0o600)
	base := []string{"ETCDCTL_ENDPOINTS=" + src.Endpoint}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"no user", nil, nil, 1},
		{"wrong password", []string{"ETCDCTL_USER=root", "ETCDCTL_PASSWORD=wrong"}, nil, 1},
		{"unknown user", []string{"ETCDCTL_USER=nobody:x"}, nil, 1},
		{"user without password", []string{"ETCDCTL_USER=root"}, nil, 2},
		{"password from variable", []string{"ETCDCTL_USER=root", "ETCDCTL_PASSWORD=s3cret-root"}, nil, 0},
		{"password from file", []string{"ETCDCTL_USER=root", "ETCDCTL_PASSWORD_FILE=" + pwFile}, nil, 0},
		{"user:password flag", nil, []string{"--user", "root:s3cret-root"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"save"}, tc.args...)
			args = append(args, filepath.Join(t.TempDir(), "s.db"))
			_, errOut, code := run(t, append(append([]string{}, base...), tc.env...), nil, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			if code == 1 && (!strings.Contains(errOut, src.Endpoint) || !strings.Contains(errOut, "auth")) {
				t.Fatalf("stderr does not name the endpoint and the auth cause: %q", errOut)
			}
			if strings.Contains(errOut, "s3cret-root") {
				t.Fatal("the password appears in stderr")
			}
		})
	}
}

// The S3 server dies mid-stream: exit 1, and nothing under the key.
func TestS3OutageMidStream(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	fillBig(t, src.Client(t), "/big/", 40, 512<<10) // 20 MiB: several 5 MiB parts
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint)
	p := startProc(t, env, nil, "save", "--rate-limit", "4M", "--progress", "50ms", "--s3-part-size", "5M", "s3://"+bucket+"/outage.db")
	testkit.WaitFor(t, 30*time.Second, "6 MiB streamed (the first part sent)", func() error {
		if bytesSoFar(p.stderr.String()) >= 6<<20 {
			return nil
		}
		return testkit.ErrNotYet
	})
	s3.Stop()
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(p.stderr.String(), "S3") {
		t.Fatalf("stderr does not say S3 failed: %s", p.stderr.String())
	}
	if _, err := os.Stat(s3.ObjectPath(bucket, "outage.db")); !os.IsNotExist(err) {
		t.Fatalf("an object is under the key after the outage: %v", err)
	}
}

// bytesSoFar reads the last progress line's byte count.
func bytesSoFar(stderr string) int64 {
	var n int64
	for _, line := range strings.Split(stderr, "\n") {
		if i := strings.Index(line, " bytes="); i >= 0 && strings.Contains(line, "msg=progress") {
			fmt.Sscanf(line[i+len(" bytes="):], "%d", &n)
		}
	}
	return n
}

// A corrupted object in S3 fails verify (and restore) with exit 1.
func TestCorruptedObject(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	fill(t, src.Client(t), "/c/", 300, 6)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint)
	if _, _, code := run(t, env, nil, "save", "s3://"+bucket+"/c.db"); code != 0 {
		t.Fatal("save failed")
	}
	path := s3.ObjectPath(bucket, "c.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[4096+17] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, env, nil, "verify", "s3://"+bucket+"/c.db")
	if code != 1 || !strings.Contains(errOut, "does not verify") {
		t.Fatalf("verify of a corrupted object: exit %d, %q", code, errOut)
	}
	dir := filepath.Join(t.TempDir(), "r")
	if _, _, code := run(t, env, nil, "restore", "s3://"+bucket+"/c.db", "--data-dir", dir); code != 1 {
		t.Fatalf("restore of a corrupted object: exit %d", code)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("a failed restore left a data dir")
	}
}

// Prune keeps what the policy says, never fewer than --min-keep verified
// backups, and never touches anything that is not its own.
func TestPrune(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	fill(t, src.Client(t), "/p/", 50, 7)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "AWS_S3_BUCKET="+bucket, "ETCD_BACKUP_PREFIX=nightly/")
	var saved []string
	for i := 0; i < 4; i++ {
		out, _, code := run(t, env, nil, "save")
		if code != 0 {
			t.Fatal("save failed")
		}
		saved = append(saved, strings.TrimPrefix(parseSave(t, out).Destination, "s3://"+bucket+"/"))
	}
	// Not ours: another prefix, a nested key, a foreign name under our prefix.
	for _, k := range []string{"other/20200101T000000.000Z.db", "nightly/sub/20200101T000000.000Z.db", "nightly/README"} {
		os.MkdirAll(filepath.Dir(s3.ObjectPath(bucket, k)), 0o755)
		os.WriteFile(s3.ObjectPath(bucket, k), []byte("x"), 0o644)
	}
	all := objectKeys(t, s3, bucket)

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"prune", "--keep-last", "1", "--min-keep", "0"}, 2},
		{[]string{"prune"}, 2},
		{[]string{"prune", "--keep-within", "forever"}, 2},
	} {
		if _, _, code := run(t, env, nil, tc.args...); code != tc.code {
			t.Fatalf("%v: exit %d, want %d", tc.args, code, tc.code)
		}
	}
	// Everything is older than 1 ms: only --min-keep keeps anything.
	out, _, code := run(t, env, nil, "prune", "--keep-within", "1ms", "--min-keep", "2", "--dry-run")
	if code != 0 || strings.Count(out, "would delete") != 2 || !slicesEqual(objectKeys(t, s3, bucket), all) {
		t.Fatalf("dry run (exit %d) printed %q and must delete nothing", code, out)
	}
	out, _, code = run(t, env, nil, "prune", "--keep-within", "1ms", "--min-keep", "2")
	if code != 0 {
		t.Fatalf("prune exit %d", code)
	}
	left := objectKeys(t, s3, bucket)
	for _, k := range append([]string{saved[2], saved[3]}, "other/20200101T000000.000Z.db", "nightly/sub/20200101T000000.000Z.db", "nightly/README") {
		if !contains(left, k) {
			t.Fatalf("prune deleted %s; left %v\n%s", k, left, out)
		}
	}
	if contains(left, saved[0]) || contains(left, saved[1]) {
		t.Fatalf("prune kept old backups: %v", left)
	}
	// Keep-last 1 with min-keep 1: the newest stays.
	if _, _, code := run(t, env, nil, "prune", "s3://"+bucket+"/nightly/", "--keep-last", "1"); code != 0 {
		t.Fatal("prune failed")
	}
	if left := objectKeys(t, s3, bucket); !contains(left, saved[3]) || contains(left, saved[2]) {
		t.Fatalf("after --keep-last 1: %v", left)
	}
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

// dump and load: a logical copy between two clusters under a prefix, with
// the original image's ETCD_KEY and ETCD_DUMP_FILENAME; load refuses to
// overwrite unless told to.
func TestDumpLoad(t *testing.T) {
	a := etcdtest.Embed(t, etcdtest.Options{})
	b := etcdtest.Embed(t, etcdtest.Options{})
	want := fill(t, a.Client(t), "/_coreos.com/", 700, 8)
	if _, err := a.Client(t).Put(ctxT(t), "/elsewhere", "no"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dump.json")
	if _, _, code := run(t, []string{"ETCD_MACHINES=" + a.Endpoint, "ETCD_KEY=/_coreos.com/", "ETCD_DUMP_FILENAME=" + file}, nil, "dump"); code != 0 {
		t.Fatal("dump failed")
	}
	raw, _ := os.ReadFile(file)
	if !json.Valid(raw) {
		t.Fatal("dump is not valid JSON")
	}
	envB := []string{"ETCDCTL_ENDPOINTS=" + b.Endpoint, "ETCD_DUMP_FILENAME=" + file}
	if _, _, code := run(t, envB, nil, "load"); code != 0 {
		t.Fatal("load failed")
	}
	equalKeys(t, b.Client(t), "/_coreos.com/", want)
	if r, _ := b.Client(t).Get(ctxT(t), "/elsewhere"); len(r.Kvs) != 0 {
		t.Fatal("a key outside the prefix was dumped")
	}
	if _, errOut, code := run(t, envB, nil, "load"); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("second load: exit %d %q, want a refusal", code, errOut)
	}
	if _, err := b.Client(t).Put(ctxT(t), "/_coreos.com/00000/changed", "x"); err != nil {
		t.Fatal(err)
	}
	if _, _, code := run(t, envB, nil, "load", "--overwrite"); code != 0 {
		t.Fatal("load --overwrite failed")
	}
	// stdout and stdin work too.
	out, _, code := run(t, []string{"ETCDCTL_ENDPOINTS=" + a.Endpoint}, nil, "dump", "--prefix", "/_coreos.com/00001", "-")
	if code != 0 || !strings.Contains(out, `"format":"cronbox-etcd-dump-v1"`) {
		t.Fatalf("dump to stdout: %d %q", code, out)
	}
}

// An etcd that never had a key (revision 1, an empty keyspace) is a real
// first-day state: its backup saves, verifies and restores.
func TestEmptyEtcd(t *testing.T) {
	src := etcdtest.Embed(t, etcdtest.Options{})
	env := []string{"ETCDCTL_ENDPOINTS=" + src.Endpoint}
	path := filepath.Join(t.TempDir(), "empty.db")
	out, errOut, code := run(t, env, nil, "save", path)
	if code != 0 {
		t.Fatalf("save of an empty etcd: exit %d: %s", code, errOut)
	}
	saved := parseSave(t, out)
	out, errOut, code = run(t, nil, nil, "verify", "-w", "json", path)
	if code != 0 {
		t.Fatalf("verify of an empty etcd's backup (saved at revision %d): exit %d: %s", saved.Revision, code, errOut)
	}
	if v := parseVerify(t, out); v.Keys != 0 {
		t.Fatalf("verify of an empty etcd's backup: %+v, want no keys", v)
	}
	r, _ := restoreAndStart(t, nil, path)
	equalKeys(t, r.Client(t), "/", map[string][]byte{})

	// Emptied and compacted: no live key, and the recorded revision is the
	// delete's; it still verifies.
	cli := src.Client(t)
	fill(t, cli, "/gone/", 20, 3)
	del, err := cli.Delete(ctxT(t), "/gone/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctxT(t), del.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "emptied.db")
	if out, errOut, code = run(t, env, nil, "save", path); code != 0 {
		t.Fatalf("save of an emptied etcd: exit %d: %s", code, errOut)
	}
	if saved = parseSave(t, out); saved.Revision != del.Header.Revision {
		t.Fatalf("saved at revision %d, want %d", saved.Revision, del.Header.Revision)
	}
	if _, errOut, code = run(t, nil, nil, "verify", path); code != 0 {
		t.Fatalf("verify of an emptied, compacted etcd's backup: exit %d: %s", code, errOut)
	}
}

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

// TLS: CA, client certificate and key; a wrong CA or a missing client
// certificate names the endpoint and TLS as the cause.
func TestTLS(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	src := etcdtest.Embed(t, etcdtest.Options{TLS: certs})
	want := fill(t, src.Client(t), "/tls/", 100, 9)
	env := []string{"ETCDCTL_ENDPOINTS=" + src.Endpoint}
	good := []string{"--cacert", certs.CA, "--cert", certs.ClientCert, "--key", certs.ClientKey}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"flags", nil, good, 0},
		{"variables", []string{"ETCDCTL_CACERT=" + certs.CA, "ETCDCTL_CERT=" + certs.ClientCert, "ETCDCTL_KEY=" + certs.ClientKey}, nil, 0},
		{"unknown CA", nil, []string{"--cacert", certs.OtherCA, "--cert", certs.ClientCert, "--key", certs.ClientKey}, 1},
		{"no client certificate", nil, []string{"--cacert", certs.CA}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			args := append(append([]string{"save"}, tc.args...), path)
			_, errOut, code := run(t, append(append([]string{}, env...), tc.env...), nil, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			if code == 1 && (!strings.Contains(errOut, src.Endpoint) || !strings.Contains(errOut, "TLS")) {
				t.Fatalf("stderr does not name the endpoint and TLS: %q", errOut)
			}
			if code == 0 {
				r, _ := restoreAndStart(t, nil, path)
				equalKeys(t, r.Client(t), "/tls/", want)
			}
		})
	}
}

// SIGTERM mid-save cancels it: exit 1, the multipart upload aborted,
// nothing under the key.
func TestSIGTERMMidSave(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	fillBig(t, src.Client(t), "/big/", 24, 512<<10)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint)
	p := startProc(t, env, nil, "save", "--rate-limit", "4M", "--progress", "50ms", "s3://"+bucket+"/term.db")
	testkit.WaitFor(t, 30*time.Second, "6 MiB streamed", func() error {
		if bytesSoFar(p.stderr.String()) >= 6<<20 {
			return nil
		}
		return testkit.ErrNotYet
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if keys := objectKeys(t, s3, bucket); len(keys) != 0 {
		t.Fatalf("objects left after SIGTERM: %v", keys)
	}
}
