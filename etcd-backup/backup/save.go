// Package backup takes, checks, restores and prunes etcd v3 snapshots. A
// snapshot streams from one healthy member through a check of its own
// SHA-256 trailer straight to its destination (stdout, a file, or an S3
// object), so a backup that did not check never looks complete: the S3
// upload is aborted and a file keeps its temporary name until it is removed.
package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"cronbox/etcd-backup/etcdconn"
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
}

// SaveResult describes a finished backup.
type SaveResult struct {
	Location Location      `json:"-"`
	Dest     string        `json:"destination"`
	Endpoint string        `json:"endpoint"`
	MemberID string        `json:"member_id"`
	Version  string        `json:"etcd_version"`
	Revision int64         `json:"revision"`
	Size     int64         `json:"size"`
	SHA256   string        `json:"sha256"`
	DBSHA256 string        `json:"db_sha256"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
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
	res := SaveResult{Location: dst, Dest: dst.String(), Endpoint: m.Endpoint, MemberID: strconv.FormatUint(m.ID, 16), Version: m.Version}
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
	snap, err := cli.SnapshotWithVersion(sctx)
	if err != nil {
		return res, &sourceError{etcdconn.Describe(m.Endpoint, fmt.Errorf("snapshot: %w", err))}
	}
	defer snap.Snapshot.Close()
	// The first message's header is the snapshot's point in time (etcd 3.6+);
	// older servers leave it empty, and the status we took just before is a
	// lower bound.
	res.Revision = m.Revision
	if snap.Header != nil && snap.Header.Revision > 0 {
		res.Revision = snap.Header.Revision
	}
	if snap.Version != "" {
		res.Version = snap.Version
	}
	cluster := ""
	if snap.Header != nil && snap.Header.ClusterId != 0 {
		cluster = strconv.FormatUint(snap.Header.ClusterId, 16)
	}
	src := &srcReader{r: snap.Snapshot, endpoint: m.Endpoint}
	tr := NewTrailerReader(src, dst.Kind != S3)
	pr := &progressReader{r: tr, ctx: sctx, rate: s.RateLimit, log: s.Log, every: s.Progress, dest: dst.String(), start: start, last: start}
	if pr.every <= 0 {
		pr.every = 10 * time.Second
	}
	s.Log.Info("saving snapshot", "endpoint", m.Endpoint, "member_id", res.MemberID, "revision", res.Revision, "db_size", m.DBSize, "destination", dst.String())

	switch dst.Kind {
	case Stdio:
		_, err = io.Copy(s.Stdout, pr)
	case File:
		err = writeFileAtomic(dst.Path, pr, tr)
	case S3:
		meta := map[string]string{
			MetaFormat:   FormatV1,
			MetaRevision: strconv.FormatInt(res.Revision, 10),
			MetaMemberID: res.MemberID,
			MetaVersion:  res.Version,
			MetaEndpoint: m.Endpoint,
			MetaCreated:  s.now().UTC().Format(time.RFC3339),
		}
		if cluster != "" {
			meta[MetaCluster] = cluster
		}
		var obj Object
		obj, err = s.Store.Put(sctx, dst.Bucket, dst.Key, pr, meta)
		if err == nil {
			res.SHA256 = obj.SHA256
			if obj.Size != tr.Size() {
				err = fmt.Errorf("S3 put %s: stored %d bytes, the snapshot has %d", dst, obj.Size, tr.Size())
			}
		} else {
			err = fmt.Errorf("S3: %w", err)
		}
	}
	res.Size = tr.Size()
	res.DBSHA256 = tr.DBSHA256()
	if res.SHA256 == "" {
		res.SHA256 = tr.SHA256()
	}
	res.Duration = time.Since(start)
	res.Seconds = res.Duration.Seconds()
	if err == nil && !tr.Checked() {
		err = fmt.Errorf("%w: the stream was not read to its end", ErrTrailer)
	}
	if err != nil {
		if src.err != nil || errors.Is(err, ErrTrailer) {
			// Say which side failed even if the destination wrapped it away.
			cause := src.err
			if cause == nil {
				cause = err
			} else {
				cause = fmt.Errorf("%w (so %s was not written)", cause, dst)
			}
			return res, &sourceError{cause}
		}
		return res, err
	}
	s.Log.Info("snapshot saved", "destination", dst.String(), "size", res.Size, "sha256", res.SHA256, "revision", res.Revision, "seconds", res.Seconds)
	return res, nil
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

// writeFileAtomic writes r to a temporary file beside path and renames it
// to path only when r ended with a checked trailer, then writes path.sha256
// (sha256sum format) so verify can check the whole file too.
func writeFileAtomic(path string, r io.Reader, tr *TrailerReader) (err error) {
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
	if !tr.Checked() {
		return fmt.Errorf("%w: the stream was not read to its end", ErrTrailer)
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
	if err := os.WriteFile(path+".sha256", []byte(tr.SHA256()+"  "+filepath.Base(path)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s.sha256: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
