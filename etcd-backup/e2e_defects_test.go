package main

// Pinning tests of defects 13.3 and 13.4 and of the compatibility items of
// issue 14 (13: verify's key count against etcdctl 3.4, the cluster ID of a
// 3.4 server).

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"cronbox/gof3r/s3"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

func s3Client(t *testing.T, srv *testkit.S3Server) *s3.Client {
	t.Helper()
	c, err := s3.New(s3.Config{Endpoint: srv.Endpoint, Region: "us-east-1", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Defect 13.3: with ETCD_BACKUP_PREFIX written without its trailing "/",
// the job script's save landed as PREFIX20261127T...Z.db and its prune then
// failed at every run (exit 2, "want ... ending in /"): a good backup and a
// failed run, for a naming reason. The prefix is now a folder for both.
func TestJobScriptPrefixWithoutSlash(t *testing.T) {
	busybox := testkit.Need(t, "busybox")
	s3srv := testkit.Versitygw(t)
	bucket := s3srv.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	want := fill(t, src.Client(t), "/job/", 100, 15)
	bin := jobScriptPath(t, busybox)
	script := filepath.Join(testkit.RepoRoot(t), "scripts", "etcd-backup")
	env := append(s3srv.Env(), "PATH="+bin, "AWS_S3_BUCKET="+bucket, "ETCD_ENDPOINTS="+src.Endpoint,
		"ETCD_BACKUP_PREFIX=backups", "ETCD_KEEP_LAST=1", "ETCD_MIN_KEEP=1")
	var saved []string
	for i := 0; i < 2; i++ {
		cmd := exec.Command(busybox, "sh", script)
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d of the job script: %v\n%s", i+1, err, b)
		}
		t.Logf("run %d:\n%s", i+1, b)
		objs, err := s3Client(t, s3srv).List(ctxT(t), bucket, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 1 || !strings.HasPrefix(objs[0].Key, "backups/") {
			t.Fatalf("after run %d the bucket holds %v; want one backup under backups/ (keep-last 1)", i+1, objs)
		}
		saved = append(saved, objs[0].Key)
	}
	if saved[0] == saved[1] {
		t.Fatal("the second run did not replace the first backup")
	}
	r, _ := restoreAndStart(t, s3srv.Env(), "s3://"+bucket+"/"+saved[1])
	equalKeys(t, r.Client(t), "/job/", want)
}

// Defect 13.4: a logical dump was stored with the snapshot's content type.
// It is JSON (application/json); compressed and encrypted, it says so in
// its metadata, and load opens it with the identity alone.
func TestDumpS3ContentTypeAndCodec(t *testing.T) {
	s3srv := testkit.Versitygw(t)
	bucket := s3srv.Bucket(t, "bkt")
	a := etcdtest.Embed(t, etcdtest.Options{})
	b := etcdtest.Embed(t, etcdtest.Options{})
	want := fill(t, a.Client(t), "/dump/", 500, 16)
	key, recipient := ageKey(t)
	c := s3Client(t, s3srv)
	env := append(s3srv.Env(), "ETCDCTL_ENDPOINTS="+a.Endpoint, "ETCD_KEY=/dump/")
	if _, _, code := run(t, env, nil, "dump", "s3://"+bucket+"/dump.json"); code != 0 {
		t.Fatal("dump failed")
	}
	o, err := c.Stat(ctxT(t), bucket, "dump.json")
	if err != nil || o.ContentType != "application/json" {
		t.Fatalf("dump.json: content type %q (%v), want application/json", o.ContentType, err)
	}
	if _, _, code := run(t, env, nil, "dump", "--compress", "zstd", "--encrypt-to", recipient, "s3://"+bucket+"/dump.json.zst.age"); code != 0 {
		t.Fatal("encrypted dump failed")
	}
	o, err = c.Stat(ctxT(t), bucket, "dump.json.zst.age")
	if err != nil || o.ContentType != "application/octet-stream" || o.Metadata["cronbox-compression"] != "zstd" || o.Metadata["cronbox-encryption"] != "age" {
		t.Fatalf("dump.json.zst.age: %q %v (%v)", o.ContentType, o.Metadata, err)
	}
	envB := append(s3srv.Env(), "ETCDCTL_ENDPOINTS="+b.Endpoint)
	if _, errOut, code := run(t, envB, nil, "load", "s3://"+bucket+"/dump.json.zst.age"); code != 1 || !strings.Contains(errOut, "no identity") {
		t.Fatalf("load without identity: exit %d %q", code, errOut)
	}
	if _, _, code := run(t, append(envB, "ETCD_BACKUP_IDENTITY_FILE="+key), nil, "load", "s3://"+bucket+"/dump.json.zst.age"); code != 0 {
		t.Fatal("load of the encrypted dump failed")
	}
	equalKeys(t, b.Client(t), "/dump/", want)
}

// Issue 14 item 13: verify's count of keys against `etcdctl snapshot
// status` 3.4 on the same file. etcdctl 3.4 counts every entry of every bolt
// bucket (each key revision, tombstones, etcd's own records) as totalKey;
// etcdutl 3.5+ counts live keys under the same name. verify reports both,
// under names that say which is which.
func TestVerifyCountsAgainstEtcdctl34(t *testing.T) {
	etcdctl := testkit.Need(t, "etcdctl")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	fill(t, cli, "/k/", 2000, 17)
	// Overwrites and deletes: revisions that are not live keys.
	for i := 0; i < 50; i++ {
		if _, err := cli.Put(ctxT(t), fmt.Sprintf("/over/%d", i%5), "v"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Delete(ctxT(t), "/over/0"); err != nil {
		t.Fatal(err)
	}
	live, err := cli.Get(ctxT(t), "", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.db")
	if _, _, code := run(t, []string{"ETCDCTL_ENDPOINTS=" + src.Endpoint}, nil, "save", path); code != 0 {
		t.Fatal("save failed")
	}
	cmd := exec.Command(etcdctl, "snapshot", "status", "-w", "json", path)
	cmd.Env = []string{"ETCDCTL_API=3", "PATH=" + os.Getenv("PATH")}
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("etcdctl snapshot status: %v", err)
	}
	var ctl struct {
		Hash      uint32 `json:"hash"`
		Revision  int64  `json:"revision"`
		TotalKey  int    `json:"totalKey"`
		TotalSize int64  `json:"totalSize"`
	}
	if err := json.Unmarshal(b, &ctl); err != nil {
		t.Fatalf("etcdctl said %s: %v", b, err)
	}
	out, _, code := run(t, nil, nil, "verify", "-w", "json", path)
	if code != 0 {
		t.Fatal("verify failed")
	}
	var v struct {
		Hash        uint32 `json:"hash"`
		Revision    int64  `json:"revision"`
		Keys        int    `json:"keys"`
		BoltEntries int    `json:"bolt_entries"`
		TotalSize   int64  `json:"totalSize"`
	}
	json.Unmarshal([]byte(out), &v)
	t.Logf("etcdctl 3.4: %+v; verify: %+v; live keys %d", ctl, v, live.Count)
	if v.BoltEntries != ctl.TotalKey || v.Hash != ctl.Hash || v.Revision != ctl.Revision || v.TotalSize != ctl.TotalSize {
		t.Errorf("verify %+v, etcdctl 3.4 %+v: bolt_entries must be etcdctl 3.4's totalKey, hash/revision/size equal", v, ctl)
	}
	if int64(v.Keys) != live.Count {
		t.Errorf("verify keys %d, the server holds %d live keys", v.Keys, live.Count)
	}
	if out, _, _ := run(t, nil, nil, "verify", path); !strings.Contains(out, "KEYS, BOLT ENTRIES") {
		t.Errorf("verify's table: %q", out)
	}
}
