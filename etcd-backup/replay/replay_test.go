package replay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// snapshotFile saves a snapshot of e into a file without its trailer.
func snapshotFile(t *testing.T, cli *clientv3.Client) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "snap.db")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := cli.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := StripTrailer(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TrimAfter leaves a snapshot as it was at an earlier revision: restored
// and served, it holds exactly what etcd held then. It refuses a revision
// the snapshot was compacted past.
func TestTrimAfter(t *testing.T) {
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	ctx := context.Background()
	for i := 0; i < 40; i++ {
		if _, err := cli.Put(ctx, fmt.Sprintf("/k/%d", i%7), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		if i%5 == 4 {
			cli.Delete(ctx, fmt.Sprintf("/k/%d", i%7))
		}
	}
	want, err := cli.Get(ctx, "/k/", clientv3.WithPrefix(), clientv3.WithRev(25))
	if err != nil {
		t.Fatal(err)
	}
	path := snapshotFile(t, cli)
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if rev, _ := db.Revision(); rev != 49 {
		t.Fatalf("snapshot at revision %d, want 49", rev)
	}
	n, err := db.TrimAfter(25)
	if err != nil || n != 24 {
		t.Fatalf("trimmed %d changes, %v; want 24", n, err)
	}
	if rev, _ := db.Revision(); rev != 25 {
		t.Fatalf("revision %d after trimming to 25", rev)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	peer := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	if err := snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{SnapshotPath: path, SkipHashCheck: true, Name: "r", OutputDataDir: dir,
		PeerURLs: []string{peer}, InitialCluster: "r=" + peer, InitialClusterToken: "t"}); err != nil {
		t.Fatal(err)
	}
	r := etcdtest.Embed(t, etcdtest.Options{Dir: dir, Name: "r", PeerURL: peer})
	got, err := r.Client(t).Get(ctx, "/k/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.Revision != 25 || len(got.Kvs) != len(want.Kvs) {
		t.Fatalf("restored: revision %d, %d keys; want 25, %d keys", got.Header.Revision, len(got.Kvs), len(want.Kvs))
	}
	for i, kv := range want.Kvs {
		g := got.Kvs[i]
		if string(g.Key) != string(kv.Key) || string(g.Value) != string(kv.Value) || g.ModRevision != kv.ModRevision || g.CreateRevision != kv.CreateRevision || g.Version != kv.Version {
			t.Fatalf("key %d: %v, want %v", i, g, kv)
		}
	}

	// Compacted past the revision: refused, nothing removed.
	if _, err := cli.Compact(ctx, 45); err != nil {
		t.Fatal(err)
	}
	db, err = Open(snapshotFile(t, cli))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.TrimAfter(30); err == nil || n != 0 {
		t.Fatalf("trim to 30 of a snapshot compacted at 45: %d, %v", n, err)
	}
}

func TestOpenRefusesWhatIsNotEtcd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	os.WriteFile(path, []byte("not a database"), 0o600)
	if _, err := Open(path); err == nil {
		t.Fatal("opened a file that is not a database")
	}
}
