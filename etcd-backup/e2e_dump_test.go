package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cronbox/testkit/etcdtest"
)

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
