package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

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
