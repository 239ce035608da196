package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// End-to-end tests of save: destinations, etcd versions, members that
// fail, auth and TLS, an S3 outage, SIGTERM (helpers in e2e_test.go).

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
