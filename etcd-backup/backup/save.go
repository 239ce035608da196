// Package backup takes, checks, restores and prunes etcd v3 snapshots. A
// snapshot streams from one healthy member through a check of its own
// SHA-256 trailer straight to its destination (stdout, a file, or an S3
// object), so a backup that did not check never looks complete: the S3
// upload is aborted and a file keeps its temporary name until it is removed.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"cronbox/codec"
	"cronbox/etcd-backup/etcdconn"
	"cronbox/gof3r/s3"
)

// Saver takes snapshots.
type Saver struct {
	Log      *slog.Logger
	Conn     etcdconn.Config
	Store    Store // needed for S3 locations only
	Stdout   io.Writer
	Now      func() time.Time
	Progress time.Duration // interval of progress lines; 0 = 10 s
	Timeout  time.Duration // whole snapshot transfer; 0 = 1 h
	// RateLimit caps the snapshot read rate in bytes per second (0: none),
	// to spare a busy member's disk and network.
	RateLimit int64
	// Codec says how the snapshot is stored: compressed, then encrypted.
	Codec codec.Options
	// LockMode (GOVERNANCE or COMPLIANCE) and LockRetain put an S3 Object
	// Lock retention on the object, counted from the save.
	LockMode   string
	LockRetain time.Duration
}

// SaveResult describes a finished backup.
type SaveResult struct {
	Location    Location      `json:"-"`
	Dest        string        `json:"destination"`
	Endpoint    string        `json:"endpoint"`
	MemberID    string        `json:"member_id"`
	ClusterID   string        `json:"cluster_id,omitempty"`
	Version     string        `json:"etcd_version"`
	Revision    int64         `json:"revision"`
	Size        int64         `json:"size"`        // the snapshot's bytes
	StoredSize  int64         `json:"stored_size"` // what was stored (compressed, encrypted)
	SHA256      string        `json:"sha256"`      // of what was stored
	DBSHA256    string        `json:"db_sha256"`
	Compression string        `json:"compression"` // zstd, gzip or none
	Encrypted   bool          `json:"encrypted"`
	LockMode    string        `json:"object_lock_mode,omitempty"`
	LockedUntil *time.Time    `json:"object_locked_until,omitempty"`
	Duration    time.Duration `json:"-"`
	Seconds     float64       `json:"seconds"`
}

// sourceError marks a failure of the etcd side of the stream (the member
// died, the stream broke, the trailer did not match): another member may do.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// Save snapshots one healthy member to dst. If the stream from a member
// fails before anything irrevocable happened (always for files and S3,
// before the first byte for stdout), it tries the next healthy member.
func (s *Saver) Save(ctx context.Context, dst Location) (SaveResult, error) {
	if dst.Kind == S3 && s.Store == nil {
		return SaveResult{}, errors.New("S3 destination but no S3 client")
	}
	members, errs := s.Conn.Healthy(ctx)
	for _, err := range errs {
		s.Log.Warn("skipping member", "err", err)
	}
	if len(members) == 0 {
		return SaveResult{}, fmt.Errorf("no healthy etcd member: %w", errors.Join(errs...))
	}
	var failures []error
	for _, m := range members {
		res, err := s.saveFrom(ctx, m, dst)
		if err == nil {
			return res, nil
		}
		failures = append(failures, err)
		var se *sourceError
		if !errors.As(err, &se) || ctx.Err() != nil || res.Size > 0 && dst.Kind == Stdio {
			return res, err
		}
		s.Log.Warn("snapshot from member failed, trying the next healthy one", "endpoint", m.Endpoint, "err", err)
	}
	return SaveResult{}, errors.Join(failures...)
}

func (s *Saver) saveFrom(ctx context.Context, m etcdconn.Member, dst Location) (SaveResult, error) {
	start := time.Now()
	layers := s.Codec.Layers()
	res := SaveResult{Location: dst, Dest: dst.String(), Endpoint: m.Endpoint, MemberID: strconv.FormatUint(m.ID, 16), Version: m.Version,
		Compression: string(layers.Compression), Encrypted: layers.Encrypted}
	if m.ClusterID != 0 {
		res.ClusterID = strconv.FormatUint(m.ClusterID, 16)
	}
	cli, err := s.Conn.Connect(ctx, m.Endpoint)
	if err != nil {
		return res, &sourceError{err}
	}
	defer cli.Close()
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	snapshot, err := startSnapshot(sctx, cli, m, &res)
	if err != nil {
		return res, err
	}
	defer snapshot.Close()

	// The pipeline: etcd stream -> trailer check -> progress/rate limit ->
	// the codec's goroutine (compress, encrypt) -> the destination. The
	// codec's goroutine is the only reader of src and tr until enc.Close
	// has returned: only then are their counters and hashes read (defect
	// 13.1: an S3 upload that failed early returned while its own reading
	// goroutine was still hashing the stream, and reading the digest then
	// panicked).
	src := &srcReader{r: snapshot, endpoint: m.Endpoint}
	tr := NewTrailerReader(src, layers.Plain())
	pr := &progressReader{r: tr, ctx: sctx, rate: s.RateLimit, log: s.Log, every: s.Progress, dest: dst.String(), start: start, last: start}
	if pr.every <= 0 {
		pr.every = 10 * time.Second
	}
	enc, err := codec.Encode(pr, s.Codec)
	if err != nil {
		return res, err
	}
	// What is stored: counted, and hashed where no S3 store hashes it.
	stored := &hashReader{r: enc, hash: sha256.New()}
	if dst.Kind == S3 || layers.Plain() {
		stored.hash = nil
	}
	// finish stops the codec's goroutine (cancelling the source first if
	// the destination failed, so a blocked etcd read returns) and waits for
	// it. It runs once; after it, tr and src are ours alone.
	finished := false
	var encErr error
	finish := func(failed bool) error {
		if !finished {
			finished = true
			if failed {
				cancel()
			}
			encErr = enc.Close()
		}
		return encErr
	}
	defer finish(true)
	storedSHA := func() string {
		if stored.hash != nil {
			return hex.EncodeToString(stored.hash.Sum(nil))
		}
		return tr.SHA256()
	}
	s.Log.Info("saving snapshot", "endpoint", m.Endpoint, "member_id", res.MemberID, "revision", res.Revision, "db_size", m.DBSize,
		"destination", dst.String(), "compression", res.Compression, "encrypted", res.Encrypted)

	switch dst.Kind {
	case Stdio:
		_, err = io.Copy(s.Stdout, stored)
	case File:
		err = writeFileAtomic(dst.Path, stored, func() (string, error) {
			if err := finish(false); err != nil {
				return "", err
			}
			if !tr.Checked() {
				return "", fmt.Errorf("%w: the stream was not read to its end", ErrTrailer)
			}
			return storedSHA(), nil
		})
	case S3:
		err = s.putS3(sctx, dst, stored, &res, layers)
	}
	// If the destination failed, the source is stopped by us: its own
	// error then (a cancelled stream) is not the cause, unless the
	// destination failed because of it.
	dstErr, stopped := err, err != nil
	if ferr := finish(stopped); err == nil {
		err = ferr
	}
	res.Size = tr.Size()
	res.StoredSize = stored.n()
	res.DBSHA256 = tr.DBSHA256()
	if res.SHA256 == "" && tr.Checked() {
		res.SHA256 = storedSHA()
	}
	res.Duration = time.Since(start)
	res.Seconds = res.Duration.Seconds()
	if err == nil && !tr.Checked() {
		err = fmt.Errorf("%w: the stream was not read to its end", ErrTrailer)
	}
	if err != nil {
		return res, sideOf(err, dstErr, stopped, src, dst)
	}
	s.Log.Info("snapshot saved", "destination", dst.String(), "size", res.Size, "stored_size", res.StoredSize, "sha256", res.SHA256,
		"revision", res.Revision, "seconds", res.Seconds, "compression", res.Compression, "encrypted", res.Encrypted, "object_lock", res.LockMode)
	return res, nil
}

// startSnapshot starts m's snapshot stream and fills res's point in time:
// the first message's header is the snapshot's (etcd 3.6+); older servers
// leave it empty, and the status taken just before is a lower bound (and
// gives the cluster ID).
func startSnapshot(ctx context.Context, cli *clientv3.Client, m etcdconn.Member, res *SaveResult) (io.ReadCloser, error) {
	snap, err := cli.SnapshotWithVersion(ctx)
	if err != nil {
		return nil, &sourceError{etcdconn.Describe(m.Endpoint, fmt.Errorf("snapshot: %w", err))}
	}
	res.Revision = m.Revision
	if snap.Header != nil && snap.Header.Revision > 0 {
		res.Revision = snap.Header.Revision
	}
	if snap.Header != nil && snap.Header.ClusterId != 0 {
		res.ClusterID = strconv.FormatUint(snap.Header.ClusterId, 16)
	}
	if snap.Version != "" {
		res.Version = snap.Version
	}
	return snap.Snapshot, nil
}

// putS3 uploads the stored bytes to dst with the snapshot's metadata and,
// if asked, an object lock; it fills res's lock and SHA-256.
func (s *Saver) putS3(ctx context.Context, dst Location, stored *hashReader, res *SaveResult, layers codec.Layers) error {
	meta := map[string]string{
		MetaFormat:   FormatV1,
		MetaRevision: strconv.FormatInt(res.Revision, 10),
		MetaMemberID: res.MemberID,
		MetaVersion:  res.Version,
		MetaEndpoint: res.Endpoint,
		MetaCreated:  s.now().UTC().Format(time.RFC3339),
	}
	if res.ClusterID != "" {
		meta[MetaCluster] = res.ClusterID
	}
	for k, v := range layers.Metadata() {
		meta[k] = v
	}
	lock := s3.LockFor(s.LockMode, s.LockRetain, s.now())
	// A plain snapshot's SHA-256 comes from the trailer reader's pass (the
	// stored bytes are the stream): hashing it again in the S3 client,
	// on the goroutine that cuts the parts, cost 14% of a 1 GiB save's
	// CPU.
	obj, err := s.Store.Put(ctx, dst.Bucket, dst.Key, stored, PutOptions{Metadata: meta, ContentType: layers.ContentType(ContentTypeSnapshot), Lock: lock, HashedByCaller: layers.Plain()})
	if err != nil {
		return fmt.Errorf("S3: %w", err)
	}
	if lock.Mode != "" {
		res.LockMode, res.LockedUntil = lock.Mode, &lock.Until
	}
	res.SHA256 = obj.SHA256
	if obj.Size != stored.n() {
		return fmt.Errorf("S3 put %s: stored %d bytes, the encoded snapshot has %d", dst, obj.Size, stored.n())
	}
	return nil
}

// sideOf says which side a failed save failed on. If the destination
// failed (dstErr; stopped: the source was stopped because of it), the
// source's own error (a cancelled stream) is not the cause, unless the
// destination failed because of it. A failure of the source, or of the
// trailer check, is a *sourceError: another member may do.
func sideOf(err, dstErr error, stopped bool, src *srcReader, dst Location) error {
	srcFailed := src.err != nil && (!stopped || errors.Is(dstErr, src.err))
	switch {
	case srcFailed:
		// Say which side failed even if the destination wrapped it away.
		return &sourceError{fmt.Errorf("%w (so %s was not written)", src.err, dst)}
	case errors.Is(err, ErrTrailer):
		return &sourceError{err}
	}
	return err
}

// hashReader counts what passes and, if hash is set, hashes it. The count
// is atomic: an S3 upload may still be reading (and failing) on its own
// goroutine after Put returned. (hash is only set where the reader's one
// reader is this goroutine: a file or stdout.)
type hashReader struct {
	r     io.Reader
	hash  hash.Hash
	count atomic.Int64
}

func (h *hashReader) n() int64 { return h.count.Load() }

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.count.Add(int64(n))
	if h.hash != nil {
		h.hash.Write(p[:n])
	}
	return n, err
}

func (s *Saver) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// srcReader remembers the etcd stream's own failure, named by endpoint.
type srcReader struct {
	r        io.Reader
	endpoint string
	err      error
}

func (r *srcReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = etcdconn.Describe(r.endpoint, fmt.Errorf("snapshot stream: %w", err))
		return n, r.err
	}
	return n, err
}

// progressReader logs how far a long transfer got.
type progressReader struct {
	r           io.Reader
	ctx         context.Context
	rate        int64
	log         *slog.Logger
	every       time.Duration
	dest        string
	n           atomic.Int64
	start, last time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	total := p.n.Add(int64(n))
	if p.rate > 0 && err == nil {
		// Wait until the bytes so far fit the rate.
		ahead := time.Duration(float64(total)/float64(p.rate)*float64(time.Second)) - time.Since(p.start)
		if ahead > 0 {
			t := time.NewTimer(ahead)
			select {
			case <-t.C:
			case <-p.ctx.Done():
				t.Stop()
				return n, context.Cause(p.ctx)
			}
		}
	}
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		secs := now.Sub(p.start).Seconds()
		p.log.Info("progress", "destination", p.dest, "bytes", total, "mib_per_s", fmt.Sprintf("%.1f", float64(total)/(1<<20)/secs))
	}
	return n, err
}

// writeFileAtomic writes r to a temporary file beside path. When r has
// ended, commit says whether the content is good (the stream's checks
// passed) and gives its SHA-256; only then is the file renamed to path and,
// when there is a SHA-256 (a snapshot; a dump has none), path.sha256
// (sha256sum format) written beside it, so verify can check the whole file
// too.
func writeFileAtomic(path string, r io.Reader, commit func() (sha string, err error)) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = io.Copy(f, r); err != nil {
		return err
	}
	sum, err := commit()
	if err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Chmod(f.Name(), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if sum == "" {
		syncDir(dir)
		return nil
	}
	if err := os.WriteFile(path+".sha256", []byte(sum+"  "+filepath.Base(path)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s.sha256: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
