package snapshot

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap/snappb"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// WAL record types (etcd's storage/wal).
const (
	metadataType int64 = iota + 1
	entryType
	stateType
	crcType
	snapshotType
)

// segmentSize is the size etcd gives every WAL segment file up front.
const segmentSize = 64 * 1000 * 1000

// walEncoder writes WAL records: a little-endian 64-bit length (its top
// byte flags and counts the padding to 8 bytes), then the record, padded;
// each record carries the CRC-32C of every record's data so far.
type walEncoder struct {
	w   io.Writer
	crc uint32
}

func (e *walEncoder) record(typ int64, data []byte) error {
	e.crc = crc32.Update(e.crc, castagnoli, data)
	b, err := proto.Marshal(&walpb.Record{Type: &typ, Crc: new(e.crc), Data: data})
	if err != nil {
		return err
	}
	length := uint64(len(b))
	if pad := (8 - len(b)%8) % 8; pad != 0 {
		length |= uint64(0x80|pad) << 56
		b = append(b, make([]byte, pad)...)
	}
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], length)
	if _, err := e.w.Write(l[:]); err != nil {
		return err
	}
	_, err = e.w.Write(b)
	return err
}

func (e *walEncoder) message(typ int64, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return e.record(typ, b)
}

func (c cluster) confState() *raftpb.ConfState {
	cs := &raftpb.ConfState{}
	for _, m := range c.members {
		cs.Voters = append(cs.Voters, m.ID)
	}
	return cs
}

// writeWAL writes the new cluster's first WAL segment, as etcd's wal.Create
// then Save and SaveSnapshot do: the metadata (node and cluster ID), one
// entry adding each member, the hard state that commits them, and the
// snapshot record at the commit index. It is written in DIR.tmp and
// renamed, so the WAL appears whole or not at all.
func writeWAL(dir string, c cluster, commit, term uint64) error {
	tmp := filepath.Clean(dir) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	f, err := os.OpenFile(filepath.Join(tmp, fmt.Sprintf("%016x-%016x.wal", 0, 0)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	enc := &walEncoder{w: bw}
	steps := []func() error{
		func() error { return enc.record(crcType, nil) },
		func() error {
			return enc.message(metadataType, &etcdserverpb.Metadata{NodeID: new(c.local.ID), ClusterID: new(c.id)})
		},
		// The empty snapshot record of a bootstrap: index and term 0, both
		// written out.
		func() error {
			return enc.message(snapshotType, &walpb.Snapshot{Index: new(uint64(0)), Term: new(uint64(0))})
		},
	}
	for i, m := range c.members {
		steps = append(steps, func() error {
			ctx, err := json.Marshal(m)
			if err != nil {
				return err
			}
			cc, err := proto.Marshal(&raftpb.ConfChange{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: new(m.ID), Context: ctx})
			if err != nil {
				return err
			}
			return enc.message(entryType, &raftpb.Entry{Type: raftpb.EntryConfChange.Enum(), Term: new(term), Index: new(uint64(i + 1)), Data: cc})
		})
	}
	steps = append(steps,
		func() error {
			return enc.message(stateType, &raftpb.HardState{Term: new(term), Vote: new(c.members[0].ID), Commit: new(commit)})
		},
		func() error {
			return enc.message(snapshotType, &walpb.Snapshot{Index: new(commit), Term: new(term), ConfState: c.confState()})
		},
		bw.Flush,
		// The rest of the segment, zeros, as etcd preallocates it (sparse
		// here: etcd falls back to the same where fallocate fails).
		func() error { return f.Truncate(segmentSize) },
		f.Sync,
		f.Close,
	)
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeSnap writes the raft snapshot file etcd keeps beside the database:
// the v2 store holding the membership, at the commit index.
func writeSnap(dir string, c cluster, commit, term uint64) error {
	store, err := json.Marshal(v2Membership(c))
	if err != nil {
		return err
	}
	b, err := proto.Marshal(&raftpb.Snapshot{Data: store, Metadata: &raftpb.SnapshotMetadata{
		Index: new(commit), Term: new(term), ConfState: c.confState(),
	}})
	if err != nil {
		return err
	}
	d, err := proto.Marshal(&snappb.Snapshot{Crc: new(crc32.Update(0, castagnoli, b)), Data: b})
	if err != nil {
		return err
	}
	path := filepath.Join(dir, fmt.Sprintf("%016x-%016x.snap", term, commit))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	if _, err := f.Write(d); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// The v2 store as etcd serialises it (etcdserver/api/v2store): etcd 3.4
// to 3.6 read the membership from it when they start from the snapshot.
type v2Node struct {
	Path          string
	CreatedIndex  uint64
	ModifiedIndex uint64
	ExpireTime    time.Time
	Value         string
	Children      map[string]*v2Node
}

type v2NodeExtern struct {
	Key           string  `json:"key,omitempty"`
	Value         *string `json:"value,omitempty"`
	ModifiedIndex uint64  `json:"modifiedIndex,omitempty"`
	CreatedIndex  uint64  `json:"createdIndex,omitempty"`
}

type v2Event struct {
	Action string        `json:"action"`
	Node   *v2NodeExtern `json:"node,omitempty"`
}

type v2Store struct {
	Root       *v2Node
	WatcherHub struct {
		EventHistory struct {
			Queue struct {
				Events                      []*v2Event
				Size, Front, Back, Capacity int
			}
			StartIndex, LastIndex uint64
		}
	}
	CurrentIndex   uint64
	Stats          v2Stats
	CurrentVersion int
}

type v2Stats struct {
	GetSuccess              uint64 `json:"getsSuccess"`
	GetFail                 uint64 `json:"getsFail"`
	SetSuccess              uint64 `json:"setsSuccess"`
	SetFail                 uint64 `json:"setsFail"`
	DeleteSuccess           uint64 `json:"deleteSuccess"`
	DeleteFail              uint64 `json:"deleteFail"`
	UpdateSuccess           uint64 `json:"updateSuccess"`
	UpdateFail              uint64 `json:"updateFail"`
	CreateSuccess           uint64 `json:"createSuccess"`
	CreateFail              uint64 `json:"createFail"`
	CompareAndSwapSuccess   uint64 `json:"compareAndSwapSuccess"`
	CompareAndSwapFail      uint64 `json:"compareAndSwapFail"`
	CompareAndDeleteSuccess uint64 `json:"compareAndDeleteSuccess"`
	CompareAndDeleteFail    uint64 `json:"compareAndDeleteFail"`
	ExpireCount             uint64 `json:"expireCount"`
	Watchers                uint64 `json:"watchers"`
}

// v2Membership is the store etcd's restore leaves in the snapshot: the
// directories "/0" (cluster) and "/1" (keys), and under /0/members one
// directory per member with its raftAttributes, each created by one store
// operation (index 1, 2, ...) that the event history remembers. The
// statistics count those creations and the one failed read etcd makes to
// check the store held no members.
func v2Membership(c cluster) v2Store {
	dir := func(path string, index uint64) *v2Node {
		return &v2Node{Path: path, CreatedIndex: index, ModifiedIndex: index, Children: map[string]*v2Node{}}
	}
	root := dir("/", 0)
	cl, keys := dir("/0", 0), dir("/1", 0)
	root.Children["0"], root.Children["1"] = cl, keys
	var members *v2Node
	var s v2Store
	const capacity = 1000
	s.WatcherHub.EventHistory.Queue.Events = make([]*v2Event, capacity)
	s.WatcherHub.EventHistory.Queue.Capacity = capacity
	for i, m := range c.members {
		index := uint64(i + 1)
		if members == nil {
			members = dir("/0/members", index)
			cl.Children["members"] = members
		}
		md := dir("/0/members/"+m.key(), index)
		members.Children[m.key()] = md
		attrs := string(m.raftAttributes())
		key := md.Path + "/raftAttributes"
		md.Children["raftAttributes"] = &v2Node{Path: key, CreatedIndex: index, ModifiedIndex: index, Value: attrs}
		s.WatcherHub.EventHistory.Queue.Events[i] = &v2Event{Action: "create", Node: &v2NodeExtern{Key: key, Value: &attrs, ModifiedIndex: index, CreatedIndex: index}}
	}
	n := len(c.members)
	q := &s.WatcherHub.EventHistory.Queue
	q.Size, q.Back = n, n%capacity
	s.WatcherHub.EventHistory.StartIndex, s.WatcherHub.EventHistory.LastIndex = 1, uint64(n)
	s.Root = root
	s.CurrentIndex = uint64(n)
	s.Stats.GetFail = 1
	s.Stats.CreateSuccess = uint64(n)
	s.CurrentVersion = 2
	return s
}
