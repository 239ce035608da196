package backup

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"cronbox/etcd-backup/snapshot"
)

// ErrMismatch is wrapped by every integrity failure verify finds.
var ErrMismatch = errors.New("backup does not verify")

// VerifyResult is what verify checked and found (etcdutl's status fields).
type VerifyResult struct {
	Source   string            `json:"source"`
	Size     int64             `json:"size"`
	SHA256   string            `json:"sha256"`                    // of the whole object, as computed now
	Recorded string            `json:"sha256_stored"`             // as recorded at save time ("" if none)
	Checksum string            `json:"checksum_stored,omitempty"` // S3's stored checksum, checked by the get
	DBSHA256 string            `json:"db_sha256"`                 // the snapshot's trailer
	Hash     uint32            `json:"hash"`                      // etcdutl's crc32 of the database content
	Revision int64             `json:"revision"`
	TotalKey int               `json:"totalKey"`
	DBSize   int64             `json:"totalSize"`
	Version  string            `json:"version,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Fetcher reads backups into local files.
type Fetcher struct {
	Store Store
	Stdin io.Reader
}

// Fetch copies src into a new file in dir, checking the snapshot trailer,
// our recorded SHA-256 (S3 metadata, or the .sha256 file beside a file),
// and returns the file's path (the caller removes it). On any mismatch the
// error wraps ErrMismatch and no file is left.
func (f *Fetcher) Fetch(ctx context.Context, src Location, dir string) (path string, res VerifyResult, err error) {
	res.Source = src.String()
	tmp, err := os.CreateTemp(dir, ".etcd-backup-fetch-*.db")
	if err != nil {
		return "", res, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	switch src.Kind {
	case Stdio:
		err = copyChecked(w, f.Stdin, &res)
	case File:
		var in *os.File
		in, err = os.Open(src.Path)
		if err != nil {
			return "", res, err
		}
		err = copyChecked(w, in, &res)
		in.Close()
		if err == nil {
			res.Recorded, err = readSidecar(src.Path + ".sha256")
		}
	case S3:
		if f.Store == nil {
			return "", res, errors.New("S3 source but no S3 client")
		}
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := copyChecked(w, pr, &res)
			pr.CloseWithError(err)
			done <- err
		}()
		obj, gerr := f.Store.Get(ctx, src.Bucket, src.Key, pw)
		pw.CloseWithError(gerr)
		cerr := <-done
		res.Metadata = obj.Metadata
		res.Recorded = obj.SHA256
		res.Checksum = obj.Checksum
		if gerr != nil {
			if cerr != nil && errors.Is(cerr, ErrTrailer) {
				gerr = errors.Join(gerr, cerr)
			}
			err = fmt.Errorf("S3: %w", gerr)
			if isChecksum(gerr) {
				err = fmt.Errorf("%w: %w", ErrMismatch, err)
			}
			return "", res, err
		}
		err = cerr
	}
	if err != nil {
		return "", res, err
	}
	if res.Recorded != "" && !strings.EqualFold(res.Recorded, res.SHA256) {
		return "", res, fmt.Errorf("%w: %s: recorded sha256 %s, content hashes to %s", ErrMismatch, src, res.Recorded, res.SHA256)
	}
	if err = w.Flush(); err != nil {
		return "", res, err
	}
	if err = tmp.Close(); err != nil {
		return "", res, err
	}
	return tmp.Name(), res, nil
}

func copyChecked(w io.Writer, r io.Reader, res *VerifyResult) error {
	tr := NewTrailerReader(r, true)
	_, err := io.Copy(w, tr)
	res.Size = tr.Size()
	if tr.Checked() {
		res.SHA256 = tr.SHA256()
		res.DBSHA256 = tr.DBSHA256()
	}
	if errors.Is(err, ErrTrailer) {
		return fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	return err
}

func readSidecar(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 || len(f[0]) != 64 {
		return "", fmt.Errorf("%w: %s is not a sha256sum line", ErrMismatch, path)
	}
	return f[0], nil
}

// isChecksum recognises the S3 client's checksum failure without importing it.
func isChecksum(err error) bool {
	var c interface{ Checksum() bool }
	if errors.As(err, &c) && c.Checksum() {
		return true
	}
	return errors.Is(err, ErrMismatch) || strings.Contains(strings.ToLower(err.Error()), "checksum")
}

// Verify fetches src into dir, checks both hashes and reads the database's
// status (revision, keys, size) the way `etcdutl snapshot status` does.
func (f *Fetcher) Verify(ctx context.Context, src Location, dir string) (VerifyResult, error) {
	path, res, err := f.Fetch(ctx, src, dir)
	if err != nil {
		return res, err
	}
	defer os.Remove(path)
	st, err := snapshot.ReadStatus(path)
	if err != nil {
		return res, fmt.Errorf("%w: %s: %w", ErrMismatch, src, err)
	}
	res.Hash, res.Revision, res.TotalKey, res.DBSize, res.Version = st.Hash, st.Revision, st.TotalKey, st.TotalSize, st.Version
	if r, ok := res.Metadata[MetaRevision]; ok {
		if want, err := strconv.ParseInt(r, 10, 64); err == nil {
			if held := storeRevision(path, res.Revision); held < want {
				return res, fmt.Errorf("%w: %s: recorded revision %d, the database holds %d", ErrMismatch, src, want, held)
			}
		}
	}
	return res, nil
}

// storeRevision is the revision etcd's store has when it opens the
// database (as mvcc's restore computes it): the newest key revision, or the
// compacted revision if that is newer, and at least 1: a store that never
// had a key is at revision 1 while its database holds no key revision.
func storeRevision(path string, keyRev int64) int64 {
	rev := max(keyRev, 1)
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return rev
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		if meta == nil {
			return nil
		}
		for _, k := range []string{"finishedCompactRev", "scheduledCompactRev"} {
			// A revision key: 8 bytes big-endian main revision, '_', 8 bytes sub.
			if v := meta.Get([]byte(k)); len(v) >= 8 {
				rev = max(rev, int64(binary.BigEndian.Uint64(v[:8])))
			}
		}
		return nil
	})
	return rev
}

// RestoreOptions are etcdutl's restore options that etcd-backup exposes.
type RestoreOptions struct {
	DataDir             string
	WALDir              string
	Name                string
	InitialCluster      string
	InitialClusterToken string
	PeerURLs            []string
	BumpRevision        uint64
	MarkCompacted       bool
}

// Restore fetches and checks src, then restores it into a new data dir
// through etcd-backup's snapshot package (etcdutl's restore, without etcd's server). The downloaded copy lives beside the
// data dir (same filesystem, no /tmp size surprises) and is removed.
func (f *Fetcher) Restore(ctx context.Context, src Location, o RestoreOptions) (VerifyResult, error) {
	if _, err := os.Stat(o.DataDir); err == nil {
		return VerifyResult{}, fmt.Errorf("restore: data dir %s already exists; give a new one", o.DataDir)
	}
	parent := filepath.Dir(filepath.Clean(o.DataDir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return VerifyResult{}, err
	}
	path, res, err := f.Fetch(ctx, src, parent)
	if err != nil {
		return res, err
	}
	defer os.Remove(path)
	err = snapshot.Restore(snapshot.RestoreConfig{
		SnapshotPath:        path,
		Name:                o.Name,
		OutputDataDir:       o.DataDir,
		OutputWALDir:        o.WALDir,
		PeerURLs:            o.PeerURLs,
		InitialCluster:      o.InitialCluster,
		InitialClusterToken: o.InitialClusterToken,
		RevisionBump:        o.BumpRevision,
		MarkCompacted:       o.MarkCompacted,
	})
	if err != nil {
		return res, fmt.Errorf("restore %s into %s: %w", src, o.DataDir, err)
	}
	st, err := snapshot.ReadStatus(path)
	if err == nil {
		res.Hash, res.Revision, res.TotalKey, res.DBSize, res.Version = st.Hash, st.Revision, st.TotalKey, st.TotalSize, st.Version
	}
	return res, nil
}
