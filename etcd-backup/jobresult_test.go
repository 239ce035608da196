package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cronbox/jobresult"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// Run by go-cron (GOCRON_RESULT_FILE set), save reports what it wrote and
// verify marks that very backup verified; a result file that cannot be
// written costs a warning, never the backup.
func TestReportsToGoCron(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "backups")
	src := etcdtest.Embed(t, etcdtest.Options{})
	fill(t, src.Client(t), "/r/", 50, 3)
	result := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(result, nil, 0o600); err != nil { // as go-cron leaves it
		t.Fatal(err)
	}
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "AWS_S3_BUCKET="+bucket, jobresult.Env+"="+result)

	out, _, code := run(t, env, nil, "save")
	if code != 0 {
		t.Fatalf("save exit %d", code)
	}
	saved := parseSave(t, out)
	_, r, err := jobresult.Read(result, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "etcd-snapshot" || r.Location != saved.Destination || r.Size != saved.Size || r.SHA256 != saved.SHA256 ||
		r.Verified || r.Etcd == nil || r.Etcd.Revision != saved.Revision || r.Etcd.MemberID != saved.MemberID || r.Etcd.Version == "" || r.Seconds <= 0 {
		t.Fatalf("reported %+v (etcd %+v); saved %+v", r, r.Etcd, saved)
	}

	// verify of another object leaves the report alone; of this one marks it.
	other := filepath.Join(t.TempDir(), "other.db")
	if _, _, code := run(t, env, nil, "save", other); code != 0 {
		t.Fatal("save to a file failed")
	}
	if err := jobresult.Write(func(string) string { return result }, r); err != nil { // the S3 one again
		t.Fatal(err)
	}
	if _, _, code := run(t, env, nil, "verify", other); code != 0 {
		t.Fatal("verify of the file failed")
	}
	if _, r, _ := jobresult.Read(result, nil); r.Verified {
		t.Fatalf("verifying another backup marked this one: %+v", r)
	}
	if _, _, code := run(t, env, nil, "verify", saved.Destination); code != 0 {
		t.Fatal("verify failed")
	}
	if _, r, _ := jobresult.Read(result, nil); !r.Verified || r.Location != saved.Destination {
		t.Fatalf("after verify: %+v", r)
	}

	// An unwritable result file: the backup still succeeds, with a warning.
	bad := append(env[:len(env):len(env)], jobresult.Env+"="+filepath.Join(t.TempDir(), "gone", "result.json"))
	if _, errOut, code := run(t, bad, nil, "save"); code != 0 || !strings.Contains(errOut, "level=WARN") || !strings.Contains(errOut, jobresult.Env) {
		t.Fatalf("save with an unwritable %s: exit %d, stderr %q", jobresult.Env, code, errOut)
	}
}
