package reliability

import (
	"strings"
	"testing"

	"cronbox/testkit/etcdtest"
)

// An etcd that never had a key written (revision 1) is a real first-day
// state: its backup must verify like any other.
func TestEdgeEmptyEtcdBackupVerifies(t *testing.T) {
	o := track(t, "faults: etcd-backup")
	st := newStore(t)
	e := etcdtest.Embed(t, etcdtest.Options{})
	env := st.env(st.srv.Endpoint)
	url := "s3://" + st.bucket + "/etcd/empty.db"
	if _, stderr, code := runTool(t, env, nil, "etcd-backup", "save", "--endpoints", e.Endpoint, url); code != 0 {
		t.Fatalf("save of an empty etcd: exit %d: %s", code, stderr)
	}
	_, stderr, code := runTool(t, env, nil, "etcd-backup", "verify", url)
	if code != 0 {
		if code == 1 && strings.Contains(stderr, "recorded revision 1, the database holds 0") {
			o.known = "etcd-backup verify refuses the backup of an etcd that never had a key (revision 1; 'the database holds 0'), so every run of a fresh cluster fails; verify should accept header revision 1 with an empty keyspace"
			return
		}
		t.Errorf("verify of an empty etcd's backup: exit %d: %s", code, stderr)
	}
}
