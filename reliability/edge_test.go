package reliability

import (
	"testing"

	"cronbox/testkit/etcdtest"
)

// An etcd that never had a key written (revision 1) is a real first-day
// state: its backup must verify like any other.
func TestEdgeEmptyEtcdBackupVerifies(t *testing.T) {
	track(t, "faults: etcd-backup")
	st := newStore(t)
	e := etcdtest.Embed(t, etcdtest.Options{})
	env := st.env(st.srv.Endpoint)
	url := "s3://" + st.bucket + "/etcd/empty.db"
	if _, stderr, code := runTool(t, env, nil, "etcd-backup", "save", "--endpoints", e.Endpoint, url); code != 0 {
		t.Fatalf("save of an empty etcd: exit %d: %s", code, stderr)
	}
	_, stderr, code := runTool(t, env, nil, "etcd-backup", "verify", url)
	if code != 0 {
		t.Errorf("verify of an empty etcd's backup: exit %d: %s", code, stderr)
	}
}
