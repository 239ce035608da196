// Package snapshot reads the status of an etcd v3 snapshot file and restores
// one into a new data directory, with the results etcdutl's snapshot package
// gives (its tests compare the two, field by field and file by file).
//
// It exists for size and for the image's PID 1: etcdutl's package pulls in
// etcd's whole server (raft transport, v2 store, auth, gRPC server,
// Prometheus and OpenTelemetry registrations), 1.5 MB of the multicall
// binary and 57 package inits that every tool, go-cron as PID 1 among them,
// runs at start. Here the database is read and edited with bbolt, and the
// WAL, the raft snapshot file and the v2 membership store etcd keeps beside
// it are written in their on-disk formats, using etcd's generated message
// types only.
package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-semver/semver"
	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// Status is what `etcdutl snapshot status` reports about a snapshot.
type Status struct {
	// Hash is the CRC-32C of every bucket name, key and value in order.
	Hash uint32
	// Revision is the newest key revision.
	Revision int64
	// TotalKey is the number of live keys (tombstones removed).
	TotalKey int
	// TotalSize is the database's size in bytes.
	TotalSize int64
	// Version is the storage version etcd 3.6+ records ("" before).
	Version string
}

// Buckets of etcd's database that other packages read or write (replaying
// deltas into a snapshot).
var (
	BucketKey   = []byte("key")
	BucketLease = []byte("lease")
)

// bolt buckets and keys of etcd's schema.
var (
	bucketKey            = BucketKey
	bucketMeta           = []byte("meta")
	bucketMembers        = []byte("members")
	bucketMembersRemoved = []byte("members_removed")
	keyStorageVersion    = []byte("storageVersion")
	keyConsistentIndex   = []byte("consistent_index")
	keyTerm              = []byte("term")
	keyScheduledCompact  = []byte("scheduledCompactRev")
	keyFinishedCompact   = []byte("finishedCompactRev")
)

// CompactedRevision is the revision the database was compacted to, as its
// meta bucket records it (the finished or the scheduled compaction, the
// later of the two; 0: never, or no meta bucket).
func CompactedRevision(tx *bolt.Tx) int64 {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0
	}
	var rev int64
	for _, k := range [][]byte{keyFinishedCompact, keyScheduledCompact} {
		// A revision key: 8 bytes big-endian main revision, '_', 8 bytes sub.
		if v := meta.Get(k); len(v) >= 8 {
			rev = max(rev, int64(binary.BigEndian.Uint64(v[:8])))
		}
	}
	return rev
}

// A revision key in the key bucket: 8 bytes main revision, '_', 8 bytes
// sub revision, and a trailing 't' on a tombstone (a deletion).
const (
	revBytesLen       = 8 + 1 + 8
	markedRevBytesLen = revBytesLen + 1
)

// Revision is a key's revision in etcd's store: the main revision (one per
// transaction) and the sub revision (the change's place in it).
type Revision struct{ Main, Sub int64 }

// ParseRevision reads a key of the key bucket.
func ParseRevision(b []byte) (Revision, error) {
	if len(b) < revBytesLen {
		return Revision{}, fmt.Errorf("revision key %q: %d bytes, want at least %d", b, len(b), revBytesLen)
	}
	if b[8] != '_' {
		return Revision{}, fmt.Errorf("revision key %q: no '_' separator", b)
	}
	return Revision{int64(binary.BigEndian.Uint64(b[:8])), int64(binary.BigEndian.Uint64(b[9:17]))}, nil
}

// Bytes is the revision as a key of the key bucket (no tombstone mark).
func (r Revision) Bytes() []byte {
	b := make([]byte, revBytesLen, markedRevBytesLen)
	binary.BigEndian.PutUint64(b, uint64(r.Main))
	b[8] = '_'
	binary.BigEndian.PutUint64(b[9:], uint64(r.Sub))
	return b
}

// Tombstone is the mark etcd appends to the revision key of a deletion.
const Tombstone = 't'

// IsTombstone says whether a key of the key bucket records a deletion.
func IsTombstone(k []byte) bool { return len(k) == markedRevBytesLen && k[revBytesLen] == Tombstone }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ReadStatus checks the database at path (bolt's consistency check) and
// reads its status the way etcdutl's snapshot status does.
func ReadStatus(path string) (st Status, err error) {
	if _, err := os.Stat(path); err != nil {
		return st, err
	}
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return st, err
	}
	defer db.Close()
	h := crc32.New(castagnoli)
	live := map[string]struct{}{}
	err = db.View(func(tx *bolt.Tx) error {
		var problems []string
		for e := range tx.Check() {
			problems = append(problems, e.Error())
		}
		if len(problems) > 0 {
			return fmt.Errorf("snapshot file integrity check failed: %d errors found: %s", len(problems), strings.Join(problems, "; "))
		}
		st.TotalSize = tx.Size()
		if meta := tx.Bucket(bucketMeta); meta != nil {
			if v, err := semver.NewVersion(string(meta.Get(keyStorageVersion))); err == nil {
				st.Version = v.String()
			}
		}
		c := tx.Cursor()
		for name, _ := c.First(); name != nil; name, _ = c.Next() {
			b := tx.Bucket(name)
			if b == nil {
				return fmt.Errorf("nil bucket: %q", name)
			}
			h.Write(name)
			isKey := bytes.Equal(name, bucketKey)
			err := b.ForEach(func(k, v []byte) error {
				h.Write(k)
				h.Write(v)
				if !isKey {
					return nil
				}
				rev, err := ParseRevision(k)
				if err != nil {
					return err
				}
				st.Revision = rev.Main
				var kv mvccpb.KeyValue
				if err := proto.Unmarshal(v, &kv); err != nil {
					return fmt.Errorf("revision %d: value is not a key-value: %w", rev.Main, err)
				}
				if IsTombstone(k) {
					delete(live, string(kv.Key))
				} else {
					live[string(kv.Key)] = struct{}{}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("bucket %q: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	st.TotalKey = len(live)
	st.Hash = h.Sum32()
	return st, nil
}
