package snapshot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
	etcdutl "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"cronbox/etcd-backup/snapshot"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// snapshotOf fills an etcd with puts, overwrites and deletes (tombstones),
// a lease and a compaction, and saves its snapshot (trailer included).
func snapshotOf(t *testing.T, cli *clientv3.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 200 {
		if _, err := cli.Put(ctx, fmt.Sprintf("/k/%03d", i), strings.Repeat("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		if _, err := cli.Put(ctx, fmt.Sprintf("/k/%03d", i), "again"); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := cli.Delete(ctx, "/k/1", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision-5); err != nil {
		t.Fatal(err)
	}
	l, err := cli.Grant(ctx, 3600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/leased", "x", clientv3.WithLease(l.ID)); err != nil {
		t.Fatal(err)
	}
	rc, err := cli.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	path := filepath.Join(t.TempDir(), "snap.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// snapshots are one snapshot from an embedded etcd 3.7 and one from
// Debian's etcd 3.4 (an older schema: no storage version).
func snapshots(t *testing.T) map[string]string {
	e := etcdtest.Embed(t, etcdtest.Options{})
	c := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 1})
	return map[string]string{
		"etcd 3.7": snapshotOf(t, e.Client(t)),
		"etcd 3.4": snapshotOf(t, c.Client(t)),
	}
}

func TestAgainstEtcdutl(t *testing.T) {
	for version, path := range snapshots(t) {
		t.Run(version+"/status", func(t *testing.T) {
			want, err := etcdutl.NewV3(zap.NewNop()).Status(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := snapshot.ReadStatus(path)
			if err != nil {
				t.Fatal(err)
			}
			w := snapshot.Status{Hash: want.Hash, Revision: want.Revision, TotalKey: want.TotalKey, TotalSize: want.TotalSize, Version: want.Version}
			if got != w {
				t.Fatalf("status\n got %+v\nwant %+v (etcdutl)", got, w)
			}
			if got.TotalKey == 0 || got.Revision == 0 {
				t.Fatalf("status %+v: nothing counted", got)
			}
		})
		for _, tc := range []struct {
			name    string
			cfg     snapshot.RestoreConfig
			oneByte bool // the v2 store is byte-for-byte etcdutl's (one member: no map order)
		}{
			{"one member", snapshot.RestoreConfig{Name: "default", PeerURLs: []string{"http://localhost:2380"},
				InitialCluster: "default=http://localhost:2380", InitialClusterToken: "etcd-cluster"}, true},
			{"three members", snapshot.RestoreConfig{Name: "m2", PeerURLs: []string{"http://10.0.0.5:2380", "http://10.0.0.2:2380"},
				InitialCluster: "m1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380,m2=http://10.0.0.5:2380,m3=https://10.0.0.3:2380", InitialClusterToken: "tok"}, false},
			{"bumped and compacted", snapshot.RestoreConfig{Name: "r", PeerURLs: []string{"http://127.0.0.1:2380"},
				InitialCluster: "r=http://127.0.0.1:2380", InitialClusterToken: "t", RevisionBump: 1000, MarkCompacted: true}, true},
		} {
			t.Run(version+"/restore "+tc.name, func(t *testing.T) {
				ours, theirs := filepath.Join(t.TempDir(), "ours"), filepath.Join(t.TempDir(), "etcdutl")
				cfg := tc.cfg
				cfg.SnapshotPath, cfg.OutputDataDir = path, ours
				if err := snapshot.Restore(cfg); err != nil {
					t.Fatal(err)
				}
				err := etcdutl.NewV3(zap.NewNop()).Restore(etcdutl.RestoreConfig{
					SnapshotPath: path, Name: cfg.Name, OutputDataDir: theirs, PeerURLs: cfg.PeerURLs,
					InitialCluster: cfg.InitialCluster, InitialClusterToken: cfg.InitialClusterToken,
					RevisionBump: cfg.RevisionBump, MarkCompacted: cfg.MarkCompacted,
				})
				if err != nil {
					t.Fatal(err)
				}
				compareDB(t, filepath.Join(ours, "member/snap/db"), filepath.Join(theirs, "member/snap/db"))
				compareWAL(t, filepath.Join(ours, "member/wal"), filepath.Join(theirs, "member/wal"))
				compareSnap(t, filepath.Join(ours, "member/snap"), filepath.Join(theirs, "member/snap"), tc.oneByte)
				compareModes(t, ours, theirs)
			})
		}
	}
}

func dumpDB(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)+"/"] = ""
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"/"+string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compareDB(t *testing.T, ours, theirs string) {
	t.Helper()
	got, want := dumpDB(t, ours), dumpDB(t, theirs)
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok || g != want[k] {
			t.Errorf("db %q: ours %q (present %v), etcdutl's %q", k, g, ok, want[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("db %q: only ours has it", k)
		}
	}
}

func compareWAL(t *testing.T, ours, theirs string) {
	t.Helper()
	read := func(dir string) ([]byte, proto.Message, []proto.Message, []*walpb.Snapshot) {
		w, err := wal.OpenForRead(zap.NewNop(), dir, &walpb.Snapshot{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		md, st, ents, err := w.ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		var es []proto.Message
		for _, e := range ents {
			es = append(es, e)
		}
		snaps, err := wal.ValidSnapshotEntries(zap.NewNop(), dir)
		if err != nil {
			t.Fatal(err)
		}
		return md, st, es, snaps
	}
	md1, st1, e1, s1 := read(ours)
	md2, st2, e2, s2 := read(theirs)
	if !bytes.Equal(md1, md2) || !proto.Equal(st1, st2) || len(e1) != len(e2) || len(s1) != len(s2) {
		t.Fatalf("wal differs: metadata %x / %x, state %v / %v, %d / %d entries, %d / %d snapshots", md1, md2, st1, st2, len(e1), len(e2), len(s1), len(s2))
	}
	for i := range e1 {
		if !proto.Equal(e1[i], e2[i]) {
			t.Errorf("wal entry %d: ours %v, etcdutl's %v", i, e1[i], e2[i])
		}
	}
	for i := range s1 {
		if !proto.Equal(s1[i], s2[i]) {
			t.Errorf("wal snapshot %d: ours %v, etcdutl's %v", i, s1[i], s2[i])
		}
	}
	// And the segment file itself, byte for byte (its preallocated zeros
	// included).
	name := "0000000000000000-0000000000000000.wal"
	b1, err := os.ReadFile(filepath.Join(ours, name))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := os.ReadFile(filepath.Join(theirs, name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Errorf("wal segment: %d bytes differ from etcdutl's %d", len(b1), len(b2))
	}
}

// flatten lists a v2 store's leaf values by path.
func flatten(t *testing.T, data []byte) (map[string]string, map[string]any) {
	t.Helper()
	var s struct {
		Root         json.RawMessage
		CurrentIndex uint64
		Stats        map[string]any
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	type node struct {
		Path     string
		Value    string
		Children map[string]json.RawMessage
	}
	out := map[string]string{}
	var walk func(json.RawMessage)
	walk = func(raw json.RawMessage) {
		var n node
		if err := json.Unmarshal(raw, &n); err != nil {
			t.Fatal(err)
		}
		out[n.Path] = n.Value
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(s.Root)
	s.Stats["currentIndex"] = s.CurrentIndex
	return out, s.Stats
}

func compareSnap(t *testing.T, ours, theirs string, byteForByte bool) {
	t.Helper()
	names := func(dir string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, "*.snap"))
		for i := range m {
			m[i] = filepath.Base(m[i])
		}
		return m
	}
	if n1, n2 := names(ours), names(theirs); !slices.Equal(n1, n2) {
		t.Fatalf("snap files: ours %v, etcdutl's %v", n1, n2)
	}
	s1, err := snap.New(zap.NewNop(), ours).Load()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := snap.New(zap.NewNop(), theirs).Load()
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(s1.Metadata, s2.Metadata) {
		t.Errorf("snap metadata: ours %v, etcdutl's %v", s1.Metadata, s2.Metadata)
	}
	if byteForByte && !bytes.Equal(s1.Data, s2.Data) {
		t.Errorf("v2 store:\n ours %s\netcdutl %s", s1.Data, s2.Data)
	}
	v1, st1 := flatten(t, s1.Data)
	v2, st2 := flatten(t, s2.Data)
	if !maps.Equal(v1, v2) {
		t.Errorf("v2 store values:\n ours %v\netcdutl %v", v1, v2)
	}
	if fmt.Sprint(st1) != fmt.Sprint(st2) {
		t.Errorf("v2 store stats: ours %v, etcdutl's %v", st1, st2)
	}
}

// compareModes: the same files and directories with the same permissions.
func compareModes(t *testing.T, ours, theirs string) {
	t.Helper()
	list := func(root string) map[string]os.FileMode {
		out := map[string]os.FileMode{}
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out[rel] = fi.Mode()
			return nil
		})
		return out
	}
	if got, want := list(ours), list(theirs); !maps.Equal(got, want) {
		t.Errorf("files and modes: ours %v, etcdutl's %v", got, want)
	}
}

// etcd 3.4 reads the membership from the raft snapshot's v2 store when it
// starts (3.7 rebuilds it from the WAL): a restore of a 3.4 snapshot is
// served by Debian's etcd 3.4 with its keys, at its revision.
func TestRestoredServedByEtcd34(t *testing.T) {
	bin := testkit.Need(t, "etcd")
	c := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 1})
	cli := c.Client(t)
	path := snapshotOf(t, cli)
	want, err := snapshot.ReadStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	peer := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	client := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	dir := filepath.Join(t.TempDir(), "restored")
	err = snapshot.Restore(snapshot.RestoreConfig{SnapshotPath: path, Name: "r1", OutputDataDir: dir,
		PeerURLs: []string{peer}, InitialCluster: "r1=" + peer, InitialClusterToken: "restored"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--name", "r1", "--data-dir", dir, "--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--log-level", "warn", "--logger", "zap")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no ETCD_* from the test's environment
	logs := &testkit.Buffer{Limit: 1 << 20}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	rcli := etcdtest.NewClient(t, client)
	var got *clientv3.GetResponse
	testkit.WaitFor(t, 30*time.Second, "the restored etcd 3.4 to serve", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		got, err = rcli.Get(ctx, "/", clientv3.WithPrefix())
		if err != nil {
			return fmt.Errorf("%w (logs: %s)", err, logs)
		}
		return nil
	})
	if int(got.Count) != want.TotalKey || got.Header.Revision != want.Revision {
		t.Fatalf("restored etcd 3.4: %d keys at revision %d, want %d at %d", got.Count, got.Header.Revision, want.TotalKey, want.Revision)
	}
	ms, err := rcli.MemberList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms.Members) != 1 || ms.Members[0].Name != "r1" || ms.Members[0].PeerURLs[0] != peer {
		t.Fatalf("restored membership: %v", ms.Members)
	}
}

// A restore that cannot be done says why and leaves nothing behind.
func TestRestoreRefuses(t *testing.T) {
	good := snapshotOf(t, etcdtest.Embed(t, etcdtest.Options{}).Client(t))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	bad := slices.Clone(data)
	bad[4096] ^= 1
	if err := os.WriteFile(damaged, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	noTrailer := filepath.Join(t.TempDir(), "plain.db")
	if err := os.WriteFile(noTrailer, data[:len(data)-32], 0o600); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	base := snapshot.RestoreConfig{SnapshotPath: good, Name: "a", PeerURLs: []string{"http://127.0.0.1:2380"},
		InitialCluster: "a=http://127.0.0.1:2380", InitialClusterToken: "t"}
	for _, tc := range []struct {
		name string
		edit func(*snapshot.RestoreConfig)
		want string
	}{
		{"name not in the cluster", func(c *snapshot.RestoreConfig) { c.Name = "b" }, `couldn't find local name "b"`},
		{"peer URLs differ", func(c *snapshot.RestoreConfig) { c.PeerURLs = []string{"http://127.0.0.2:2380"} }, "do not match"},
		{"duplicate URL", func(c *snapshot.RestoreConfig) {
			c.InitialCluster = "a=http://127.0.0.1:2380,b=http://127.0.0.1:2380"
		}, "duplicate url"},
		{"bad URL", func(c *snapshot.RestoreConfig) { c.PeerURLs = []string{"127.0.0.1:2380"} }, "peer URLs"},
		{"data dir not empty", func(c *snapshot.RestoreConfig) { c.OutputDataDir = full }, "not empty"},
		{"trailer mismatch", func(c *snapshot.RestoreConfig) { c.SnapshotPath = damaged }, "expected sha256"},
		{"no trailer", func(c *snapshot.RestoreConfig) { c.SnapshotPath = noTrailer }, "no SHA-256 trailer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.OutputDataDir = filepath.Join(t.TempDir(), "new")
			tc.edit(&cfg)
			err := snapshot.Restore(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
			if cfg.OutputDataDir != full {
				if _, err := os.Stat(cfg.OutputDataDir); !os.IsNotExist(err) {
					t.Fatalf("a failed restore left %s (%v)", cfg.OutputDataDir, err)
				}
			} else if entries, _ := os.ReadDir(full); len(entries) != 1 {
				t.Fatalf("a refused restore touched the existing dir: %v", entries)
			}
		})
	}
	// Without the trailer check, a plain database restores.
	cfg := base
	cfg.SnapshotPath, cfg.SkipHashCheck, cfg.OutputDataDir = noTrailer, true, filepath.Join(t.TempDir(), "plain")
	if err := snapshot.Restore(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestRevisionKeys(t *testing.T) {
	r := snapshot.Revision{Main: 0x0102030405060708, Sub: 9}
	b := r.Bytes()
	if string(b) != "\x01\x02\x03\x04\x05\x06\x07\x08_\x00\x00\x00\x00\x00\x00\x00\x09" {
		t.Fatalf("%q", b)
	}
	got, err := snapshot.ParseRevision(append(b, snapshot.Tombstone))
	if err != nil || got != r {
		t.Fatalf("%v %v", got, err)
	}
	if snapshot.IsTombstone(b) || !snapshot.IsTombstone(append(b, snapshot.Tombstone)) {
		t.Fatal("tombstone mark")
	}
	for _, bad := range []string{"", "12345678_1234567", "12345678-12345678"} {
		if _, err := snapshot.ParseRevision([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
