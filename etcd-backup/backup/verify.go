package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"

	"cronbox/codec"
	"cronbox/etcd-backup/snapshot"
)

// ErrMismatch is wrapped by every integrity failure verify finds.
var ErrMismatch = errors.New("backup does not verify")

// VerifyResult is what verify checked and found (etcdutl's status fields).
type VerifyResult struct {
	Source     string `json:"source"`
	Size       int64  `json:"size"`          // the snapshot's bytes (0 if the contents were not read)
	StoredSize int64  `json:"stored_size"`   // the stored bytes (compressed, encrypted)
	SHA256     string `json:"sha256"`        // of the stored bytes, as computed now
	Recorded   string `json:"sha256_stored"` // as recorded at save time ("" if none)
	// Checksum is the checksum S3 stores with the object and the get
	// checked (a multipart upload records no SHA-256 of the whole).
	Checksum string `json:"checksum_stored,omitempty"`
	DBSHA256 string `json:"db_sha256"` // the snapshot's trailer
	// Compression and Encrypted say how it is stored (found in the bytes,
	// and matching the object's metadata). ContentsChecked is false when
	// the snapshot inside was not read: encrypted, and no identity given;
	// then only the stored bytes' SHA-256 was checked.
	Compression     string   `json:"compression"`
	Encrypted       bool     `json:"encrypted"`
	Recipients      []string `json:"age_recipients,omitempty"`
	ContentsChecked bool     `json:"contents_checked"`
	Hash            uint32   `json:"hash"` // etcdutl's crc32 of the database content
	Revision        int64    `json:"revision"`
	// Keys is the number of live keys (what etcdutl 3.5+ calls totalKey);
	// BoltEntries counts every entry of every bucket of the database, every
	// key revision and etcd's own records included (what etcdctl 3.4's
	// `snapshot status` calls totalKey: 2006 where Keys is 2000 after 2000
	// puts into a fresh etcd).
	Keys        int               `json:"keys"`
	BoltEntries int               `json:"bolt_entries"`
	DBSize      int64             `json:"totalSize"`
	Version     string            `json:"version,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// Fetcher reads backups into local files.
type Fetcher struct {
	Store Store
	Stdin io.Reader
	// Identities open encrypted backups (age X25519 keys, a passphrase).
	Identities []age.Identity
}

// Fetch copies src into a new file in dir, undoing its compression and
// encryption, and checks the snapshot trailer and our recorded SHA-256 of
// the stored bytes (S3 metadata, or the .sha256 file beside a file); it
// returns the file's path (the caller removes it). On any mismatch the error
// wraps ErrMismatch, and no file is left. With storedOnly, an encrypted
// backup that no identity opens is only hashed (res.ContentsChecked false,
// no file): verify's check without the key.
func (f *Fetcher) Fetch(ctx context.Context, src Location, dir string) (path string, res VerifyResult, err error) {
	return f.fetch(ctx, src, dir, false)
}

func (f *Fetcher) fetch(ctx context.Context, src Location, dir string, storedOnly bool) (path string, res VerifyResult, err error) {
	res.Source = src.String()
	tmp, err := os.CreateTemp(dir, ".etcd-backup-fetch-*.db")
	if err != nil {
		return "", res, err
	}
	defer func() {
		if err != nil || !res.ContentsChecked {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	decode := func(r io.Reader) error { return decodeChecked(w, r, f.Identities, storedOnly, &res) }
	switch src.Kind {
	case Stdio:
		err = decode(f.Stdin)
	case File:
		var in *os.File
		in, err = os.Open(src.Path)
		if err != nil {
			return "", res, err
		}
		err = decode(in)
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
			err := decode(pr)
			pr.CloseWithError(err)
			done <- err
		}()
		obj, gerr := f.Store.Get(ctx, src.Bucket, src.Key, pw)
		pw.CloseWithError(gerr)
		cerr := <-done
		res.Metadata = obj.Metadata
		res.Recorded = obj.SHA256
		res.Checksum = obj.Checksum
		if cerr != nil && gerr != nil && !errors.Is(cerr, gerr) {
			// The decoding failed first (a wrong identity, damage found by
			// a layer, the trailer) and the download stopped because of it.
			return "", res, fmt.Errorf("%s: %w", src, cerr)
		}
		if gerr != nil {
			err = fmt.Errorf("S3: %w", gerr)
			if isChecksum(gerr) {
				err = fmt.Errorf("%w: %w", ErrMismatch, err)
			}
			return "", res, err
		}
		err = cerr
		if err == nil {
			err = checkLayers(src, obj.Metadata, &res)
		}
	}
	if err != nil {
		return "", res, err
	}
	if res.Recorded != "" && !strings.EqualFold(res.Recorded, res.SHA256) {
		return "", res, fmt.Errorf("%w: %s: recorded sha256 %s, the stored bytes hash to %s", ErrMismatch, src, res.Recorded, res.SHA256)
	}
	if !res.ContentsChecked {
		return "", res, nil
	}
	if err = w.Flush(); err != nil {
		return "", res, err
	}
	if err = tmp.Close(); err != nil {
		return "", res, err
	}
	return tmp.Name(), res, nil
}

// checkLayers compares what an object's metadata says about its layers
// with what its bytes are. Inside an encrypted stream that was not opened,
// the compression cannot be seen: the metadata's word is reported.
func checkLayers(src Location, meta map[string]string, res *VerifyResult) error {
	want, ok, err := codec.FromMetadata(meta)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMismatch, src, err)
	}
	if !ok {
		return nil
	}
	if res.Encrypted && !res.ContentsChecked {
		res.Compression = string(want.Compression)
	}
	got := codec.Layers{Compression: codec.Compression(res.Compression), Encrypted: res.Encrypted}
	if got.String() != want.String() {
		return fmt.Errorf("%w: %s: the metadata says %s, the stored bytes are %s", ErrMismatch, src, want, got)
	}
	return nil
}

// decodeChecked copies the snapshot in r (stored bytes: perhaps compressed,
// perhaps encrypted) to w, checking its trailer, and fills res: the stored
// bytes' size and SHA-256, the layers found, the snapshot's size and
// trailer. An encrypted stream that no identity opens is, with storedOnly,
// only hashed.
func decodeChecked(w io.Writer, r io.Reader, ids []age.Identity, storedOnly bool, res *VerifyResult) error {
	stored := &hashReader{r: r}
	br := bufio.NewReaderSize(stored, 64<<10)
	peek, _ := br.Peek(64 << 10)
	found := codec.Inspect(bytes.NewReader(peek))
	res.Encrypted, res.Recipients = found.Encrypted, found.Recipients
	res.Compression = string(found.Compression)
	if found.Plain() {
		// Stored as it is: the trailer reader's whole-stream hash is the
		// stored bytes' hash, in the same pass.
		tr := NewTrailerReader(br, true)
		_, err := io.Copy(w, tr)
		res.Size, res.StoredSize = tr.Size(), tr.Size()
		if tr.Checked() {
			res.SHA256, res.DBSHA256, res.ContentsChecked = tr.SHA256(), tr.DBSHA256(), true
		}
		if errors.Is(err, ErrTrailer) {
			return fmt.Errorf("%w: %w", ErrMismatch, err)
		}
		return err
	}
	// Hash from here on, and the bytes the peek already brought (all of
	// them: nothing was consumed yet).
	stored.hash = sha256.New()
	stored.hash.Write(peek)
	if found.Encrypted && len(ids) == 0 && storedOnly {
		// Without the key only the stored bytes can be checked.
		_, err := io.Copy(io.Discard, br)
		res.StoredSize, res.SHA256 = stored.n(), hex.EncodeToString(stored.hash.Sum(nil))
		return err
	}
	dec, err := codec.NewReader(br, codec.ReadOptions{Identities: ids})
	if err != nil {
		if errors.Is(err, codec.ErrWrongIdentity) || errors.Is(err, codec.ErrNoIdentity) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	defer dec.Close()
	res.Compression = string(dec.Layers().Compression)
	tr := NewTrailerReader(dec, false)
	_, err = io.Copy(w, tr)
	if err == nil {
		// Drain what a layer may still hold after the snapshot (nothing,
		// for what save writes), so the stored hash covers every byte.
		_, err = io.Copy(io.Discard, br)
	}
	res.Size, res.StoredSize = tr.Size(), stored.n()
	if tr.Checked() && err == nil {
		res.DBSHA256, res.ContentsChecked = tr.DBSHA256(), true
		res.SHA256 = hex.EncodeToString(stored.hash.Sum(nil))
	}
	if errors.Is(err, ErrTrailer) || errors.Is(err, codec.ErrCorrupt) {
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
// status (revision, keys, size) the way `etcdutl snapshot status` does. An
// encrypted backup with no identity to open it gets the stored bytes'
// check only, and ContentsChecked false.
func (f *Fetcher) Verify(ctx context.Context, src Location, dir string) (VerifyResult, error) {
	path, res, err := f.fetch(ctx, src, dir, true)
	if err != nil || !res.ContentsChecked {
		return res, err
	}
	defer os.Remove(path)
	if err := status(path, &res); err != nil {
		return res, fmt.Errorf("%w: %s: %w", ErrMismatch, src, err)
	}
	if r, ok := res.Metadata[MetaRevision]; ok {
		if want, err := strconv.ParseInt(r, 10, 64); err == nil {
			if held := storeRevision(path, res.Revision); held < want {
				return res, fmt.Errorf("%w: %s: recorded revision %d, the database holds %d", ErrMismatch, src, want, held)
			}
		}
	}
	return res, nil
}

// status fills res with etcdutl's status of the database at path, and the
// count of bolt entries (etcdctl 3.4's totalKey).
func status(path string, res *VerifyResult) error {
	st, err := snapshot.ReadStatus(path)
	if err != nil {
		return err
	}
	res.Hash, res.Revision, res.Keys, res.DBSize, res.Version = st.Hash, st.Revision, st.TotalKey, st.TotalSize, st.Version
	res.BoltEntries, err = boltEntries(path)
	return err
}

// boltEntries counts the entries of every bucket, as etcdctl 3.4's
// `snapshot status` counts its totalKey.
func boltEntries(path string) (int, error) {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			return b.ForEach(func(_, _ []byte) error { n++; return nil })
		})
	})
	return n, err
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
		rev = max(rev, snapshot.CompactedRevision(tx))
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

// Config is the snapshot package's restore of the snapshot file at path
// with these options.
func (o RestoreOptions) Config(path string) snapshot.RestoreConfig {
	return snapshot.RestoreConfig{
		SnapshotPath:        path,
		Name:                o.Name,
		OutputDataDir:       o.DataDir,
		OutputWALDir:        o.WALDir,
		PeerURLs:            o.PeerURLs,
		InitialCluster:      o.InitialCluster,
		InitialClusterToken: o.InitialClusterToken,
		RevisionBump:        o.BumpRevision,
		MarkCompacted:       o.MarkCompacted,
	}
}

// Restore fetches and checks src, then restores it into a new data dir
// through etcd-backup's snapshot package (etcdutl's restore, without etcd's server). The downloaded copy lives beside the
// data dir (same filesystem, no /tmp size surprises) and is removed; a
// failed fetch (a wrong or missing identity, a damaged or truncated
// backup) leaves nothing behind, not even a parent directory it created.
func (f *Fetcher) Restore(ctx context.Context, src Location, o RestoreOptions) (res VerifyResult, err error) {
	if _, err := os.Stat(o.DataDir); err == nil {
		return VerifyResult{}, fmt.Errorf("restore: data dir %s already exists; give a new one", o.DataDir)
	}
	parent := filepath.Dir(filepath.Clean(o.DataDir))
	created, err := mkdirAllTracked(parent)
	if err != nil {
		return VerifyResult{}, err
	}
	defer func() {
		if err != nil {
			for i := len(created) - 1; i >= 0; i-- {
				os.Remove(created[i])
			}
		}
	}()
	path, res, err := f.fetch(ctx, src, parent, false)
	if err != nil {
		return res, err
	}
	defer os.Remove(path)
	err = snapshot.Restore(o.Config(path))
	if err != nil {
		return res, fmt.Errorf("restore %s into %s: %w", src, o.DataDir, err)
	}
	_ = status(path, &res)
	return res, nil
}

// mkdirAllTracked is os.MkdirAll that returns the directories it created,
// outermost first.
func mkdirAllTracked(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append([]string{d}, missing...)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return missing, nil
}
