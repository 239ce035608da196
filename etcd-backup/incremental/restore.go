package incremental

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"cronbox/etcd-backup/snapshot"

	"cronbox/codec"
	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/chain"
	"cronbox/etcd-backup/delta"
	"cronbox/etcd-backup/replay"
)

// Target is what to restore: a revision, the newest point at or before a
// time, or (both zero) the newest point the prefix holds.
type Target struct {
	Revision int64
	Time     time.Time
}

func (t Target) String() string {
	switch {
	case t.Revision > 0 && !t.Time.IsZero():
		return fmt.Sprintf("revision %d as the chain held it at %s", t.Revision, t.Time.UTC().Format(time.RFC3339))
	case t.Revision > 0:
		return fmt.Sprintf("revision %d", t.Revision)
	case !t.Time.IsZero():
		return "the newest point at or before " + t.Time.UTC().Format(time.RFC3339)
	}
	return "the newest point"
}

// Restorer restores points in time from one bucket and prefix.
type Restorer struct {
	Log            *slog.Logger
	Store          backup.Store
	Bucket, Prefix string
	// Fetcher fetches and checks the full snapshot (and undoes its codec
	// layers); its identities open encrypted deltas too.
	Fetcher *backup.Fetcher
}

// Plan is what a restore uses.
type Plan struct {
	Target   Target
	Revision int64     // the revision restored
	Time     time.Time // when that revision was read as the newest (the point's time)
	Full     chain.Full
	Deltas   []chain.Delta
}

// PlanError is a chain that cannot restore the target.
type PlanError struct{ Err error }

func (e *PlanError) Error() string { return e.Err.Error() }
func (e *PlanError) Unwrap() error { return e.Err }

func (r *Restorer) url(name string) string { return "s3://" + r.Bucket + "/" + r.Prefix + name }

// Plan reads the prefix and picks the full snapshot and the deltas that
// restore t, reading the metadata of full snapshots, newest first, only as
// far as needed.
func (r *Restorer) Plan(ctx context.Context, t Target) (Plan, error) {
	objs, err := r.Store.List(ctx, r.Bucket, r.Prefix)
	if err != nil {
		return Plan{}, fmt.Errorf("S3: list s3://%s/%s: %w", r.Bucket, r.Prefix, err)
	}
	l := chain.Build(r.Bucket, r.Prefix, objs)
	if len(l.Fulls) == 0 {
		return Plan{}, &PlanError{fmt.Errorf("s3://%s/%s holds no full snapshot", r.Bucket, r.Prefix)}
	}
	stat := func(f *chain.Full) error {
		if f.Stated {
			return nil
		}
		o, err := r.Store.Stat(ctx, r.Bucket, f.Key)
		if err != nil {
			return fmt.Errorf("S3: stat %s: %w", r.url(f.Name), err)
		}
		f.SetMetadata(o.Metadata)
		f.Size = o.Size
		return nil
	}
	p := Plan{Target: t}
	// With a revision and a time, the revision of the chain as it stood at
	// that time: after a cluster was restored, revision numbers repeat.
	target, notAfter := t.Revision, t.Time
	if target == 0 {
		// A time (or now): the newest point at or before it, a full
		// snapshot or a delta's end.
		if notAfter.IsZero() {
			notAfter = time.Unix(math.MaxInt32, 0) // everything
		}
		var full *chain.Full
		for i := range l.Fulls {
			if !l.Fulls[i].Time.After(notAfter) {
				full = &l.Fulls[i]
				break
			}
		}
		var newest *chain.Delta
		for i := range l.Deltas {
			d := &l.Deltas[i]
			if !d.Time.After(notAfter) && (newest == nil || d.Time.After(newest.Time)) {
				newest = d
			}
		}
		switch {
		case full == nil && newest == nil:
			return p, &PlanError{fmt.Errorf("nothing under s3://%s/%s is from %s or before", r.Bucket, r.Prefix, notAfter.UTC().Format(time.RFC3339))}
		case newest != nil && (full == nil || newest.Time.After(full.Time)):
			target, p.Time = newest.To, newest.Time
		default:
			if err := stat(full); err != nil {
				return p, err
			}
			if full.Revision < 1 {
				return p, &PlanError{fmt.Errorf("the full snapshot %s records no revision", full.Name)}
			}
			target, p.Time = full.Revision, full.Time
		}
	}
	for i := range l.Fulls {
		f := &l.Fulls[i]
		if !notAfter.IsZero() && f.Time.After(notAfter) {
			continue
		}
		if err := stat(f); err != nil {
			return p, err
		}
		if f.Revision >= 1 && f.Revision <= target {
			break
		}
	}
	full, path, err := l.Plan(target, notAfter)
	if err != nil {
		return p, &PlanError{err}
	}
	p.Revision, p.Full, p.Deltas = target, full, path.Deltas
	if p.Time.IsZero() {
		p.Time = full.Time
		for _, d := range path.Deltas {
			p.Time = d.Time
		}
	}
	return p, nil
}

// RestoreResult describes a finished restore.
type RestoreResult struct {
	DataDir      string    `json:"data_dir"`
	Revision     int64     `json:"revision"`
	Time         time.Time `json:"time"`
	Full         string    `json:"full"`
	FullRevision int64     `json:"full_revision"`
	ClusterID    string    `json:"cluster_id,omitempty"`
	Deltas       int       `json:"deltas"`
	Events       int64     `json:"events"`
	Trimmed      int       `json:"trimmed,omitempty"` // changes after the revision dropped from the full snapshot
	Seconds      float64   `json:"seconds"`
}

// Restore plans, fetches and checks everything, replays the deltas into
// the full snapshot's file and only then restores it into o.DataDir (which
// must not exist). Any failure before that leaves no data dir.
func (r *Restorer) Restore(ctx context.Context, t Target, o backup.RestoreOptions) (RestoreResult, error) {
	start := time.Now()
	if _, err := os.Stat(o.DataDir); err == nil {
		return RestoreResult{}, fmt.Errorf("restore: data dir %s already exists; give a new one", o.DataDir)
	}
	p, err := r.Plan(ctx, t)
	if err != nil {
		return RestoreResult{}, err
	}
	res := RestoreResult{DataDir: o.DataDir, Revision: p.Revision, Time: p.Time, Full: r.url(p.Full.Name), FullRevision: p.Full.Revision,
		ClusterID: p.Full.ClusterID, Deltas: len(p.Deltas)}
	r.Log.Info("restoring", "target", t.String(), "revision", p.Revision, "time", p.Time.UTC().Format(time.RFC3339),
		"full", res.Full, "full_revision", p.Full.Revision, "deltas", len(p.Deltas))
	parent := filepath.Dir(filepath.Clean(o.DataDir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return res, err
	}
	path, _, err := r.Fetcher.Fetch(ctx, backup.Location{Kind: backup.S3, Bucket: r.Bucket, Key: p.Full.Key}, parent)
	if err != nil {
		return res, fmt.Errorf("full snapshot %s: %w", res.Full, err)
	}
	defer os.Remove(path)
	if res.Trimmed, res.Events, err = r.replay(ctx, path, p); err != nil {
		return res, err
	}
	cfg := o.Config(path)
	cfg.SkipHashCheck = true // checked when fetched, then replayed into
	err = snapshot.Restore(cfg)
	if err != nil {
		os.RemoveAll(o.DataDir)
		if o.WALDir != "" {
			os.RemoveAll(o.WALDir)
		}
		return res, fmt.Errorf("restore revision %d into %s: %w", p.Revision, o.DataDir, err)
	}
	res.Seconds = time.Since(start).Seconds()
	r.Log.Info("restored", "data_dir", o.DataDir, "revision", p.Revision, "deltas", len(p.Deltas), "events", res.Events, "seconds", res.Seconds)
	return res, nil
}

// replay brings the fetched full snapshot at path to revision p.Revision.
func (r *Restorer) replay(ctx context.Context, path string, p Plan) (trimmed int, events int64, err error) {
	if err := replay.StripTrailer(path); err != nil {
		return 0, 0, err
	}
	db, err := replay.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("full snapshot %s: %w", r.url(p.Full.Name), err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	held, err := db.Revision()
	if err != nil {
		return 0, 0, err
	}
	if held > p.Revision {
		// An etcd before 3.6 records a lower bound of a snapshot's revision.
		if trimmed, err = db.TrimAfter(p.Revision); err != nil {
			return 0, 0, fmt.Errorf("full snapshot %s holds revisions up to %d: %w", r.url(p.Full.Name), held, err)
		}
		r.Log.Info("dropped the full snapshot's changes after the target", "revision", p.Revision, "held", held, "changes", trimmed)
	}
	// The cluster every delta must come from: the full snapshot's, or
	// (when its metadata does not say) the first delta's.
	cluster := p.Full.ClusterID
	var last int64
	for i, d := range p.Deltas {
		if err := ctx.Err(); err != nil {
			return trimmed, events, err
		}
		a, err := r.apply(ctx, db, d, p, &cluster)
		if err != nil {
			return trimmed, events, fmt.Errorf("%s (%d of %d, %s): %w", d, i+1, len(p.Deltas), r.url(d.Name), err)
		}
		events += a.Events
		if a.Last > 0 {
			last = a.Last
		}
	}
	if len(p.Deltas) > 0 && last != p.Revision {
		r.Log.Warn("the deltas hold no event at the target revision", "revision", p.Revision, "last_event", last)
	}
	return trimmed, events, nil
}

// apply streams one delta from S3 through its codec layers and its own
// checks into db. The delta must be the one its name says, build on the
// plan's full snapshot and come from its cluster.
func (r *Restorer) apply(ctx context.Context, db *replay.DB, d chain.Delta, p Plan, cluster *string) (replay.Applied, error) {
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	type got struct {
		obj backup.Object
		err error
	}
	done := make(chan got, 1)
	go func() {
		obj, err := r.Store.Get(gctx, r.Bucket, d.Key, pw)
		pw.CloseWithError(err)
		done <- got{obj, err}
	}()
	a, err := r.read(pr, db, d, p, cluster)
	if err == nil {
		// The rest of the object (nothing, normally): the download ends and
		// checks the stored checksum.
		_, err = io.Copy(io.Discard, pr)
	} else {
		pr.CloseWithError(errors.New("replay stopped"))
		cancel()
	}
	g := <-done
	if g.err != nil && err == nil {
		err = fmt.Errorf("S3: %w", g.err)
	}
	if err == nil {
		if c := g.obj.Metadata[backup.MetaCluster]; c != "" && c != *cluster {
			err = fmt.Errorf("its metadata says cluster %s, the chain is of cluster %s", c, *cluster)
		}
	}
	return a, err
}

func (r *Restorer) read(src io.Reader, db *replay.DB, d chain.Delta, p Plan, cluster *string) (replay.Applied, error) {
	expect := d.Layers
	cr, err := codec.NewReader(src, codec.ReadOptions{Identities: r.Fetcher.Identities, Expect: &expect})
	if err != nil {
		return replay.Applied{}, err
	}
	defer cr.Close()
	dr, err := delta.NewReader(cr)
	if err != nil {
		return replay.Applied{}, err
	}
	h := dr.Header()
	if *cluster == "" {
		*cluster = h.ClusterID
	}
	switch {
	case h.From != d.From || h.To != d.To:
		return replay.Applied{}, fmt.Errorf("it holds revisions %d to %d, its name says %d to %d", h.From, h.To, d.From, d.To)
	case h.ClusterID != *cluster:
		return replay.Applied{}, fmt.Errorf("it is from cluster %s (member %s), the chain is of cluster %s", h.ClusterID, h.MemberID, *cluster)
	case h.Base != p.Full.Name:
		return replay.Applied{}, fmt.Errorf("it builds on the full snapshot %s, not on %s", h.Base, p.Full.Name)
	}
	a, err := db.Apply(dr, p.Revision)
	if err != nil {
		return a, err
	}
	// Whatever follows the delta in the object (nothing, normally) must
	// still pass the codec's own checks.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return a, err
	}
	return a, nil
}
