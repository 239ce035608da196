package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// End-to-end tests of verify and restore: the drill (save, verify,
// restore, start the restored member) and a corrupted object.

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
