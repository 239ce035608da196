package snapshot

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/client/pkg/v3/types"
)

// RestoreConfig is etcdutl's snapshot.RestoreConfig, less what etcd-backup
// does not offer (the initial mmap size of the database).
type RestoreConfig struct {
	// SnapshotPath is the snapshot file: a database with etcd's SHA-256
	// trailer, as `etcdctl snapshot save` writes it.
	SnapshotPath string
	// Name is the restored member's name; it must be in InitialCluster.
	Name string
	// OutputDataDir is the new data dir ("NAME.etcd" when empty); it must
	// not exist, or be empty.
	OutputDataDir string
	// OutputWALDir is the WAL dir (DATADIR/member/wal when empty); it must
	// not exist.
	OutputWALDir string
	// PeerURLs are the member's peer URLs; they must be InitialCluster's
	// URLs for Name.
	PeerURLs []string
	// InitialCluster is "name=url,name=url,..." for every member.
	InitialCluster string
	// InitialClusterToken seeds the member and cluster IDs.
	InitialClusterToken string
	// SkipHashCheck accepts a database without the SHA-256 trailer (a copy
	// of a data dir's db file).
	SkipHashCheck bool
	// RevisionBump is added to the newest revision (needs MarkCompacted).
	RevisionBump uint64
	// MarkCompacted marks the bumped revision compacted.
	MarkCompacted bool
}

// member is etcd's membership.Member as it stores it: JSON in the members
// bucket and in the first raft entries, its raft attributes in the v2 store.
type member struct {
	ID         uint64   `json:"id"`
	PeerURLs   []string `json:"peerURLs"`
	IsLearner  bool     `json:"isLearner,omitempty"`
	Name       string   `json:"name,omitempty"`
	ClientURLs []string `json:"clientURLs,omitempty"`
}

// memberKey is a member's key in the members bucket and its name in the
// v2 store: its ID in hex.
func (m member) key() string { return strconv.FormatUint(m.ID, 16) }

func (m member) raftAttributes() []byte {
	b, _ := json.Marshal(struct {
		PeerURLs  []string `json:"peerURLs"`
		IsLearner bool     `json:"isLearner,omitempty"`
	}{m.PeerURLs, m.IsLearner})
	return b
}

// memberID is etcd's member ID: the first 8 bytes of the SHA-1 of the
// sorted peer URLs and the cluster token.
func memberID(peerURLs []string, token string) uint64 {
	s := slices.Clone(peerURLs)
	slices.Sort(s)
	h := sha1.Sum([]byte(strings.Join(s, "") + token))
	return binary.BigEndian.Uint64(h[:8])
}

// clusterID is etcd's cluster ID: the first 8 bytes of the SHA-1 of the
// sorted member IDs.
func clusterID(ids []uint64) uint64 {
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], id)
	}
	h := sha1.Sum(b)
	return binary.BigEndian.Uint64(h[:8])
}

// cluster is the membership a restore writes: the members sorted by ID,
// the local one and the cluster's ID.
type cluster struct {
	members []member
	local   member
	id      uint64
}

// newCluster checks the configuration as etcd's bootstrap does (the name
// is in the initial cluster with the same peer URLs, no URL twice) and
// computes the IDs.
func newCluster(cfg RestoreConfig) (cluster, error) {
	var c cluster
	pURLs, err := types.NewURLs(cfg.PeerURLs)
	if err != nil {
		return c, fmt.Errorf("peer URLs: %w", err)
	}
	ics, err := types.NewURLsMap(cfg.InitialCluster)
	if err != nil {
		return c, fmt.Errorf("initial cluster %q: %w", cfg.InitialCluster, err)
	}
	if len(ics) == 0 {
		return c, errors.New("initial cluster unset")
	}
	urls, ok := ics[cfg.Name]
	if !ok {
		return c, fmt.Errorf("couldn't find local name %q in the initial cluster configuration", cfg.Name)
	}
	// etcd also accepts URLs whose host names resolve to the same
	// addresses; a restore compares them as written.
	if want, got := urls.StringSlice(), pURLs.StringSlice(); !slices.Equal(want, got) {
		return c, fmt.Errorf("peer URLs %s do not match the initial cluster's %s=%s", strings.Join(got, ","), cfg.Name, strings.Join(want, ","))
	}
	seen := map[string]bool{}
	for _, us := range ics {
		for _, u := range us.StringSlice() {
			if seen[u] {
				return c, fmt.Errorf("initial cluster %s has duplicate url", ics)
			}
			seen[u] = true
		}
	}
	byID := map[uint64]bool{}
	for name, us := range ics {
		m := member{ID: memberID(us.StringSlice(), cfg.InitialClusterToken), PeerURLs: us.StringSlice(), Name: name}
		if byID[m.ID] {
			return c, fmt.Errorf("member exists with identical ID %x", m.ID)
		}
		if m.ID == 0 {
			return c, fmt.Errorf("cannot use %x as member id", m.ID)
		}
		byID[m.ID] = true
		c.members = append(c.members, m)
		if name == cfg.Name {
			c.local = m
		}
	}
	slices.SortFunc(c.members, func(a, b member) int { return cmpUint(a.ID, b.ID) })
	ids := make([]uint64, len(c.members))
	for i, m := range c.members {
		ids[i] = m.ID
	}
	c.id = clusterID(ids)
	return c, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Restore writes a new data dir from the snapshot: the database without
// its trailer (checked first) and with the new membership, then a WAL and
// a raft snapshot that bootstrap the new cluster at index len(members),
// term 1, as etcdutl's Restore does. On failure it removes what it wrote.
func Restore(cfg RestoreConfig) (err error) {
	c, err := newCluster(cfg)
	if err != nil {
		return err
	}
	dataDir := cfg.OutputDataDir
	if dataDir == "" {
		dataDir = cfg.Name + ".etcd"
	}
	if entries, err := os.ReadDir(dataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("data-dir %q not empty", dataDir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("data-dir %q could not be read: %w", dataDir, err)
	}
	walDir := cfg.OutputWALDir
	if walDir == "" {
		walDir = filepath.Join(dataDir, "member", "wal")
	} else if _, err := os.Stat(walDir); err == nil {
		return fmt.Errorf("wal-dir %q exists", walDir)
	}
	// Remove what this restore made if it does not finish.
	_, statErr := os.Stat(dataDir)
	dataDirExisted := statErr == nil
	defer func() {
		if err == nil {
			return
		}
		if dataDirExisted {
			os.RemoveAll(filepath.Join(dataDir, "member"))
		} else {
			os.RemoveAll(dataDir)
		}
		if cfg.OutputWALDir != "" {
			os.RemoveAll(walDir)
			os.RemoveAll(walDir + ".tmp")
		}
	}()

	snapDir := filepath.Join(dataDir, "member", "snap")
	if err := os.MkdirAll(snapDir, 0o700); err != nil {
		return err
	}
	dbPath := filepath.Join(snapDir, "db")
	if err := copyDB(cfg.SnapshotPath, dbPath, cfg.SkipHashCheck); err != nil {
		return err
	}
	commit, term := uint64(len(c.members)), uint64(1)
	if err := editDB(dbPath, c, cfg, commit, term); err != nil {
		return fmt.Errorf("database %s: %w", dbPath, err)
	}
	if err := writeWAL(walDir, c, commit, term); err != nil {
		return fmt.Errorf("wal %s: %w", walDir, err)
	}
	if err := writeSnap(snapDir, c, commit, term); err != nil {
		return fmt.Errorf("snap %s: %w", snapDir, err)
	}
	return nil
}

// hasTrailer says whether a snapshot of this size ends with etcd's SHA-256:
// a bolt database is a whole number of 512-byte pages.
func hasTrailer(size int64) bool { return size%512 == sha256.Size }

// copyDB copies the snapshot to dst without its trailer, checking the
// trailer against the database's SHA-256 on the way.
func copyDB(src, dst string, skipHashCheck bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	trailer := hasTrailer(size)
	if !trailer && !skipHashCheck {
		return fmt.Errorf("snapshot %s has no SHA-256 trailer (%d bytes); a copy of a data dir's db needs the hash check skipped", src, size)
	}
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	h := sha256.New()
	n := size
	if trailer {
		n -= sha256.Size
	}
	if _, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(in, n)); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if trailer && !skipHashCheck {
		want := make([]byte, sha256.Size)
		if _, err := io.ReadFull(in, want); err != nil {
			return fmt.Errorf("read the trailer of %s: %w", src, err)
		}
		if got := h.Sum(nil); !bytes.Equal(got, want) {
			return fmt.Errorf("snapshot %s: expected sha256 %x, got %x", src, want, got)
		}
	}
	if err := out.Sync(); err != nil {
		return err
	}
	return out.Close()
}

// editDB makes the database the new cluster's: the old membership out and
// the new one in, the revision bumped and marked compacted if asked, and
// the consistent index and term of the bootstrap entries, in one
// transaction.
func editDB(path string, c cluster, cfg RestoreConfig, commit, term uint64) error {
	// etcd opens its backend without syncing bolt's freelist; so does this.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		// The old membership out: both buckets emptied (as etcd's
		// TrimMembershipFromBackend does), the members one made if missing.
		for _, name := range [][]byte{bucketMembers, bucketMembersRemoved} {
			if tx.Bucket(name) == nil {
				continue
			}
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		members, err := tx.CreateBucketIfNotExists(bucketMembers)
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if cfg.MarkCompacted && cfg.RevisionBump > 0 {
			keys := tx.Bucket(bucketKey)
			if keys == nil {
				return errors.New("no key bucket: not an etcd v3 database")
			}
			var latest Revision
			err := keys.ForEach(func(k, _ []byte) error {
				r, err := ParseRevision(k)
				if err != nil {
					return err
				}
				if r.Main > latest.Main || r.Main == latest.Main && r.Sub > latest.Sub {
					latest = r
				}
				return nil
			})
			if err != nil {
				return err
			}
			latest = Revision{Main: latest.Main + int64(cfg.RevisionBump)}
			if err := keys.Put(latest.Bytes(), []byte{}); err != nil {
				return err
			}
			if err := meta.Put(keyScheduledCompact, latest.Bytes()); err != nil {
				return err
			}
		}
		for _, m := range c.members {
			v, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if err := members.Put([]byte(m.key()), v); err != nil {
				return err
			}
		}
		if err := meta.Put(keyConsistentIndex, be64(commit)); err != nil {
			return err
		}
		return meta.Put(keyTerm, be64(term))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

func be64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}
