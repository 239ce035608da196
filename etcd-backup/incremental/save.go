// Package incremental is `etcd-backup save --incremental` and the restore
// of a point in time: each run reads the chain's newest revision from the
// bucket (never from local state), then either uploads one delta (every
// change since, read with a watch) or takes a full snapshot (no chain yet,
// history compacted, etcd not the chain's, or the full-snapshot policy
// says so). A restore picks the full snapshot and the deltas that reach
// the asked revision or time, checks them all, replays them into the
// snapshot file and restores that.
package incremental

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
	"strconv"
	"strings"
	"time"

	"cronbox/codec"
	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/chain"
	"cronbox/etcd-backup/delta"
	"cronbox/etcd-backup/etcdconn"
	"cronbox/gof3r/s3"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ContentTypeDelta is a delta's content type, before the codec's layers.
const ContentTypeDelta = "application/x-cronbox-etcd-delta"

// Schedule is when full snapshots are due (go-cron's schedule.Expression).
type Schedule interface {
	Next(t time.Time) time.Time
}

// Policy says when a run takes a full snapshot instead of a delta, beyond
// the cases where it must. Zero values are off.
type Policy struct {
	AfterDeltas  int      // the chain has this many deltas since its full snapshot
	AfterBytes   int64    // its deltas store this many bytes
	AfterPercent int      // its deltas store this share of the full snapshot's size
	Every        Schedule // this schedule fired since the full snapshot was taken
}

// Saver takes incremental backups under one bucket and prefix.
type Saver struct {
	Log    *slog.Logger
	Conn   etcdconn.Config
	Store  backup.Store
	Bucket string
	Prefix string // "" or ending in "/"
	// Full takes the full snapshots; deltas are stored as it stores them
	// (its codec: compressed, encrypted; its S3 object lock). FullName
	// names one taken at a time under the prefix.
	Full     *backup.Saver
	FullName func(time.Time) string
	Policy   Policy
	// DuringFull is how often the old chain gets a delta while a full
	// snapshot the policy asked for streams (0: none).
	DuringFull time.Duration
	TmpDir     string        // where a delta is spooled before upload ("": the system's)
	Timeout    time.Duration // the whole delta (watch and upload); 0 = 1 h
	Now        func() time.Time
}

// Result is one run's outcome.
type Result struct {
	Kind   string             `json:"kind"`             // "full", "delta" or "unchanged"
	Reason string             `json:"reason,omitempty"` // why a full snapshot
	Full   *backup.SaveResult `json:"full,omitempty"`
	Delta  *DeltaResult       `json:"delta,omitempty"`
	// DuringFull are the deltas of the old chain written while the full
	// snapshot streamed.
	DuringFull []*DeltaResult `json:"deltas_during_full,omitempty"`
	Chain      Chain          `json:"chain"`
}

// DeltaResult describes an uploaded delta.
type DeltaResult struct {
	Destination string  `json:"destination"`
	From        int64   `json:"from"`
	To          int64   `json:"to"`
	Events      int64   `json:"events"`
	Puts        int64   `json:"puts"`
	Deletes     int64   `json:"deletes"`
	Leases      int64   `json:"leases"`
	Bytes       int64   `json:"bytes"` // keys and values
	Size        int64   `json:"size"`  // stored
	SHA256      string  `json:"sha256"`
	Endpoint    string  `json:"endpoint"`
	MemberID    string  `json:"member_id"`
	ClusterID   string  `json:"cluster_id"`
	Version     string  `json:"etcd_version"`
	Seconds     float64 `json:"seconds"`
}

// Chain is the state of the chain after the run: what a restore of the
// newest point would use. Time is the recovery point: when Revision was
// read as etcd's newest.
type Chain struct {
	Full         string    `json:"full"`
	FullTime     time.Time `json:"full_time"`
	FullRevision int64     `json:"full_revision"`
	Deltas       int       `json:"deltas"`
	DeltaBytes   int64     `json:"delta_bytes"`
	Revision     int64     `json:"revision"`
	Time         time.Time `json:"time"`
}

func (s *Saver) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Saver) url(name string) string { return "s3://" + s.Bucket + "/" + s.Prefix + name }

// state is where the chain stands in the bucket.
type state struct {
	full        *chain.Full
	path        chain.Path
	fingerprint string // of the head's events, from the newest delta
}

// member is the etcd member a run reads deltas from.
type member struct {
	endpoint, id, cluster, version string
	cli                            *clientv3.Client
}

// Save runs once: a delta, nothing (unchanged), or a full snapshot.
func (s *Saver) Save(ctx context.Context) (Result, error) {
	members, errs := s.Conn.Healthy(ctx)
	for _, err := range errs {
		s.Log.Warn("skipping member", "err", err)
	}
	if len(members) == 0 {
		return Result{}, fmt.Errorf("no healthy etcd member: %w", errors.Join(errs...))
	}
	m := &member{endpoint: members[0].Endpoint}
	var err error
	if m.cli, err = s.Conn.Connect(ctx, m.endpoint); err != nil {
		return Result{}, err
	}
	defer m.cli.Close()
	st, err := s.status(ctx, m)
	if err != nil {
		return Result{}, err
	}
	m.cluster = strconv.FormatUint(st.Header.ClusterId, 16)
	m.id = strconv.FormatUint(st.Header.MemberId, 16)
	m.version = st.Version

	cs, reason, err := s.state(ctx, m.cluster)
	if err != nil {
		return Result{}, err
	}
	if reason != "" {
		return s.full(ctx, reason, m, nil)
	}
	if reason = s.policy(cs, s.now()); reason != "" {
		// The chain is good: it stays current while the full snapshot streams.
		return s.full(ctx, reason, m, &cs)
	}
	res, reason, err := s.delta(ctx, m, &cs)
	if reason != "" {
		return s.full(ctx, reason, m, nil)
	}
	return res, err
}

func (s *Saver) status(ctx context.Context, m *member) (*clientv3.StatusResponse, error) {
	cctx, cancel := s.Conn.CommandContext(ctx)
	defer cancel()
	st, err := m.cli.Status(cctx, m.endpoint)
	if err != nil {
		return nil, etcdconn.Describe(m.endpoint, err)
	}
	return st, nil
}

// chainOf is the state of the chain cs, for the result.
func (s *Saver) chainOf(cs *state) Chain {
	c := Chain{Full: s.url(cs.full.Name), FullTime: cs.full.Time, FullRevision: cs.full.Revision,
		Deltas: len(cs.path.Deltas), DeltaBytes: cs.path.Bytes(), Revision: cs.path.Reached, Time: cs.full.Time}
	if n := len(cs.path.Deltas); n > 0 {
		c.Time = cs.path.Deltas[n-1].Time
	}
	return c
}

// delta reads etcd's newest revision and writes the delta from the chain's
// head to it (nothing when it is the head), and moves cs on. A reason is
// returned when the chain cannot be continued.
func (s *Saver) delta(ctx context.Context, m *member, cs *state) (Result, string, error) {
	st, err := s.status(ctx, m)
	if err != nil {
		return Result{}, "", err
	}
	readAt := s.now()
	to, head := st.Header.Revision, cs.path.Reached
	if to < head {
		return Result{}, fmt.Sprintf("etcd is at revision %d, behind the chain's %d (a restored or replaced cluster)", to, head), nil
	}
	opts := delta.CaptureOptions{Head: head, To: to, HeadFingerprint: cs.fingerprint, ProgressNotify: atLeast35(m.version)}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	dctx, dcancel := context.WithTimeout(ctx, timeout)
	defer dcancel()
	if to == head {
		if _, err := delta.Capture(dctx, m.cli, opts, nil); err != nil {
			if reason := mustFull(err); reason != "" {
				return Result{}, reason, nil
			}
			return Result{}, "", etcdconn.Describe(m.endpoint, err)
		}
		c := s.chainOf(cs)
		s.Log.Info("nothing changed: no delta written", "revision", head, "chain_full", c.Full, "deltas", c.Deltas)
		c.Time = readAt
		return Result{Kind: "unchanged", Chain: c}, "", nil
	}

	start := time.Now()
	hdr := delta.Header{From: head + 1, To: to, ClusterID: m.cluster, MemberID: m.id, Base: cs.full.Name,
		BaseRevision: cs.full.Revision, EtcdVersion: m.version, Time: readAt.UTC()}
	layers := s.Full.Codec.Layers()
	name := chain.DeltaName(hdr.From, hdr.To, hdr.BaseRevision, readAt, layers)
	dest := s.url(name)
	s.Log.Info("saving delta", "endpoint", m.endpoint, "from", hdr.From, "to", hdr.To, "destination", dest)
	spool, res, err := s.capture(dctx, m.cli, opts, hdr)
	if spool != nil {
		defer spool.remove()
	}
	if err != nil {
		if reason := mustFull(err); reason != "" {
			return Result{}, reason, nil
		}
		return Result{}, "", etcdconn.Describe(m.endpoint, err)
	}
	meta := map[string]string{
		backup.MetaFormat:      delta.Format,
		chain.MetaFrom:         strconv.FormatInt(hdr.From, 10),
		chain.MetaTo:           strconv.FormatInt(hdr.To, 10),
		chain.MetaBase:         hdr.Base,
		chain.MetaBaseRevision: strconv.FormatInt(hdr.BaseRevision, 10),
		chain.MetaEvents:       strconv.FormatInt(res.Events, 10),
		chain.MetaBytes:        strconv.FormatInt(res.Bytes, 10),
		chain.MetaSHA256:       spool.sum,
		chain.MetaFingerprint:  res.Fingerprint,
		backup.MetaCluster:     m.cluster,
		backup.MetaMemberID:    m.id,
		backup.MetaVersion:     m.version,
		backup.MetaEndpoint:    m.endpoint,
		backup.MetaRevision:    strconv.FormatInt(hdr.To, 10),
		backup.MetaCreated:     readAt.UTC().Format(time.RFC3339),
	}
	for k, v := range layers.Metadata() {
		meta[k] = v
	}
	if _, err := spool.f.Seek(0, io.SeekStart); err != nil {
		return Result{}, "", err
	}
	obj, err := s.Store.Put(dctx, s.Bucket, s.Prefix+name, spool.f, backup.PutOptions{Metadata: meta,
		ContentType: layers.ContentType(ContentTypeDelta), Lock: s3.LockFor(s.Full.LockMode, s.Full.LockRetain, readAt)})
	if err != nil {
		return Result{}, "", fmt.Errorf("S3: put %s: %w", dest, err)
	}
	if obj.Size != spool.size {
		return Result{}, "", fmt.Errorf("S3: put %s: stored %d bytes, the delta has %d", dest, obj.Size, spool.size)
	}
	dr := &DeltaResult{Destination: dest, From: hdr.From, To: hdr.To, Events: res.Events, Puts: res.Puts, Deletes: res.Deletes,
		Leases: res.Leases, Bytes: res.Bytes, Size: spool.size, SHA256: spool.sum, Endpoint: m.endpoint, MemberID: m.id,
		ClusterID: m.cluster, Version: m.version, Seconds: time.Since(start).Seconds()}
	cs.path.Deltas = append(cs.path.Deltas, chain.Delta{Key: s.Prefix + name, Name: name, From: hdr.From, To: hdr.To,
		Base: hdr.BaseRevision, Time: readAt, Size: spool.size, Layers: layers})
	cs.path.Reached, cs.fingerprint = hdr.To, res.Fingerprint
	c := s.chainOf(cs)
	s.Log.Info("delta saved", "destination", dest, "from", hdr.From, "to", hdr.To, "events", res.Events, "size", spool.size,
		"sha256", spool.sum, "chain_deltas", c.Deltas, "seconds", dr.Seconds)
	return Result{Kind: "delta", Delta: dr, Chain: c}, "", nil
}

// mustFull says why err calls for a full snapshot ("" when it does not).
func mustFull(err error) string {
	var c *delta.CompactedError
	var h *delta.HistoryError
	switch {
	case errors.As(err, &c):
		return c.Error()
	case errors.As(err, &h):
		return h.Error()
	}
	return ""
}

// state reads the chain from the bucket; reason is set when it cannot be
// continued.
func (s *Saver) state(ctx context.Context, cluster string) (state, string, error) {
	var cs state
	objs, err := s.Store.List(ctx, s.Bucket, s.Prefix)
	if err != nil {
		return cs, "", fmt.Errorf("S3: list s3://%s/%s: %w", s.Bucket, s.Prefix, err)
	}
	l := chain.Build(s.Bucket, s.Prefix, objs)
	if len(l.Fulls) == 0 {
		return cs, "no full snapshot under the prefix yet", nil
	}
	cs.full = &l.Fulls[0]
	if !cs.full.Stated {
		o, err := s.Store.Stat(ctx, s.Bucket, cs.full.Key)
		if err != nil {
			return cs, "", fmt.Errorf("S3: stat %s: %w", s.url(cs.full.Name), err)
		}
		cs.full.SetMetadata(o.Metadata)
		cs.full.Size = o.Size
	}
	switch {
	case cs.full.Revision < 1:
		return cs, fmt.Sprintf("the newest full snapshot %s records no revision", cs.full.Name), nil
	case cs.full.ClusterID != "" && cs.full.ClusterID != cluster:
		return cs, fmt.Sprintf("the newest full snapshot %s is of cluster %s, etcd is cluster %s", cs.full.Name, cs.full.ClusterID, cluster), nil
	}
	cs.path = l.Longest(*cs.full)
	if n := len(cs.path.Deltas); n > 0 {
		last := cs.path.Deltas[n-1]
		o, err := s.Store.Stat(ctx, s.Bucket, last.Key)
		if err != nil {
			return cs, "", fmt.Errorf("S3: stat %s: %w", s.url(last.Name), err)
		}
		md := o.Metadata
		switch {
		case md[backup.MetaFormat] != delta.Format:
			return cs, fmt.Sprintf("the newest delta %s is not marked %s", last.Name, delta.Format), nil
		case md[chain.MetaBase] != cs.full.Name:
			return cs, fmt.Sprintf("the newest delta %s builds on %s, not on the newest full snapshot %s", last.Name, md[chain.MetaBase], cs.full.Name), nil
		case md[backup.MetaCluster] != cluster:
			return cs, fmt.Sprintf("the newest delta %s is of cluster %s, etcd is cluster %s", last.Name, md[backup.MetaCluster], cluster), nil
		}
		cs.fingerprint = md[chain.MetaFingerprint]
	}
	return cs, "", nil
}

// policy says why the policy wants a full snapshot now ("" if it does not).
func (s *Saver) policy(cs state, now time.Time) string {
	p := s.Policy
	n, b := len(cs.path.Deltas), cs.path.Bytes()
	switch {
	case p.AfterDeltas > 0 && n >= p.AfterDeltas:
		return fmt.Sprintf("the chain has %d deltas (full every %d)", n, p.AfterDeltas)
	case p.AfterBytes > 0 && b >= p.AfterBytes:
		return fmt.Sprintf("the chain's deltas store %d bytes (full after %d)", b, p.AfterBytes)
	case p.AfterPercent > 0 && cs.full.Size > 0 && b*100 >= int64(p.AfterPercent)*cs.full.Size:
		return fmt.Sprintf("the chain's deltas store %d bytes, %d%% of the full snapshot's %d (full after %d%%)", b, b*100/cs.full.Size, cs.full.Size, p.AfterPercent)
	case p.Every != nil:
		if due := p.Every.Next(cs.full.Time); !due.IsZero() && !due.After(now) {
			return fmt.Sprintf("a full snapshot was due at %s (the last is from %s)", due.UTC().Format(time.RFC3339), cs.full.Time.UTC().Format(time.RFC3339))
		}
	}
	return ""
}

// full takes a full snapshot under the prefix: the start of a new chain.
// With old set (the chain was good and the policy asked for the full
// snapshot), deltas of the old chain go on every DuringFull while the full
// snapshot streams, so that a long full snapshot does not hold the
// recovery point back; they name the old chain's full snapshot as their
// base, so no listing mistakes them for the new chain's.
func (s *Saver) full(ctx context.Context, reason string, m *member, old *state) (Result, error) {
	now := s.now()
	name := s.FullName(now)
	s.Log.Info("taking a full snapshot", "reason", reason)
	dst := backup.Location{Kind: backup.S3, Bucket: s.Bucket, Key: s.Prefix + name}
	type saved struct {
		res backup.SaveResult
		err error
	}
	done := make(chan saved, 1)
	go func() {
		res, err := s.Full.Save(ctx, dst)
		done <- saved{res, err}
	}()
	var during []*DeltaResult
	var tick <-chan time.Time
	if old != nil && s.DuringFull > 0 {
		t := time.NewTicker(s.DuringFull)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case sv := <-done:
			if sv.err != nil {
				return Result{}, sv.err
			}
			return Result{Kind: "full", Reason: reason, Full: &sv.res, DuringFull: during,
				Chain: Chain{Full: dst.String(), FullTime: now, FullRevision: sv.res.Revision, Revision: sv.res.Revision, Time: now}}, nil
		case <-tick:
			r, why, err := s.delta(ctx, m, old)
			if err != nil || why != "" {
				s.Log.Warn("no more deltas while the full snapshot streams", "reason", why, "err", err)
				tick = nil
				continue
			}
			if r.Delta != nil {
				during = append(during, r.Delta)
			}
		}
	}
}

// spool is a delta written to a local file before its upload, so that its
// size, SHA-256 and the fingerprint of its last revision go into the
// object's metadata.
type spool struct {
	f    *os.File
	size int64
	sum  string
}

func (sp *spool) remove() {
	sp.f.Close()
	os.Remove(sp.f.Name())
}

type countingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func (s *Saver) capture(ctx context.Context, cli delta.Client, o delta.CaptureOptions, hdr delta.Header) (*spool, delta.Result, error) {
	f, err := os.CreateTemp(s.TmpDir, ".etcd-backup-delta-*")
	if err != nil {
		return nil, delta.Result{}, fmt.Errorf("spool the delta: %w", err)
	}
	sp := &spool{f: f}
	cw := &countingWriter{w: f, h: sha256.New()}
	enc, err := codec.NewWriter(cw, s.Full.Codec)
	if err != nil {
		return sp, delta.Result{}, err
	}
	dw, err := delta.NewWriter(enc, hdr)
	if err != nil {
		return sp, delta.Result{}, fmt.Errorf("spool the delta: %w", err)
	}
	res, err := delta.Capture(ctx, cli, o, dw)
	if err != nil {
		return sp, res, err
	}
	if res.Stats, err = dw.Close(); err != nil {
		return sp, res, fmt.Errorf("spool the delta: %w", err)
	}
	if err := enc.Close(); err != nil {
		return sp, res, fmt.Errorf("spool the delta: %w", err)
	}
	if err := f.Sync(); err != nil {
		return sp, res, fmt.Errorf("spool the delta: %w", err)
	}
	sp.size, sp.sum = cw.n, hex.EncodeToString(cw.h.Sum(nil))
	return sp, res, nil
}

// atLeast35 reports whether an etcd version is 3.5 or later (its progress
// notifications come after every earlier event).
func atLeast35(v string) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err1 := strconv.Atoi(parts[0])
	mnr, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (maj > 3 || maj == 3 && mnr >= 5)
}
