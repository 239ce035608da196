// Package chain reads an incremental backup chain from what a bucket
// holds: full snapshots under PREFIX (named by time) and deltas under
// PREFIX/delta/ (named by the revisions they cover and the time their last
// one was read). From the names alone it finds a chain's newest revision,
// the full snapshot and deltas that restore a revision or a point in time
// (and the exact range missing when none do), and which objects a
// retention policy must keep so that every kept point in time still
// restores. It reads object metadata only where names cannot say enough
// (a full snapshot's revision and cluster).
package chain

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"cronbox/codec"
	"cronbox/etcd-backup/backup"
)

// DeltaDir is the folder under the prefix that holds deltas.
const DeltaDir = "delta/"

// timeLayout is the time in names: UTC, sortable, milliseconds.
const timeLayout = "20060102T150405.000Z"

// Metadata keys a delta records (lower case, without x-amz-meta-), beside
// backup's etcd-* keys (cluster, member, version, endpoint) and the codec's.
const (
	MetaFrom         = "etcd-delta-from"
	MetaTo           = "etcd-delta-to"
	MetaBase         = "etcd-delta-base"          // the full snapshot's name under the prefix
	MetaBaseRevision = "etcd-delta-base-revision" // its revision
	MetaEvents       = "etcd-delta-events"
	MetaBytes        = "etcd-delta-bytes" // keys and values, before compression
	MetaSHA256       = "etcd-delta-sha256"
	MetaFingerprint  = "etcd-delta-fingerprint" // the events at revision To (delta.Result.Fingerprint)
)

// DeltaName is a delta's name under the prefix: the revisions it covers
// (zero-padded, so that names sort by revision), the time its last
// revision was read, and the revision of the full snapshot it builds on:
// PREFIX/delta/<from>-<to>.<UTC time>.b<base>.delta, then the codec's
// suffixes. With the base in the name, a listing alone tells which
// chain a delta belongs to.
func DeltaName(from, to, base int64, t time.Time, l codec.Layers) string {
	return fmt.Sprintf("%s%012d-%012d.%s.b%012d.delta%s", DeltaDir, from, to, t.UTC().Format(timeLayout), base, l.Suffix())
}

var deltaRE = regexp.MustCompile(`^` + DeltaDir + `(\d+)-(\d+)\.(\d{8}T\d{6}(?:\.\d{1,9})?Z)\.b(\d+)\.delta$`)

// Full is a full snapshot in the bucket.
type Full struct {
	Key  string // the object's key
	Name string // the key under the prefix (what deltas name as their base)
	Time time.Time
	Size int64
	// From metadata (Stat): zero until read.
	Revision  int64
	ClusterID string
	Stated    bool
}

// Delta is a delta in the bucket.
type Delta struct {
	Key, Name string
	From, To  int64
	Base      int64     // the revision of the full snapshot it builds on
	Time      time.Time // when revision To was read
	Size      int64
	Layers    codec.Layers
}

func (d Delta) String() string { return fmt.Sprintf("delta %d-%d", d.From, d.To) }

// ParseDelta reads a delta's name under the prefix.
func ParseDelta(name string) (Delta, bool) {
	stem, layers := codec.SplitName(name)
	m := deltaRE.FindStringSubmatch(stem)
	if m == nil {
		return Delta{}, false
	}
	from, err1 := strconv.ParseInt(m[1], 10, 64)
	to, err2 := strconv.ParseInt(m[2], 10, 64)
	t, err3 := time.Parse("20060102T150405.999999999Z", m[3])
	base, err4 := strconv.ParseInt(m[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || from < 1 || to < from || base < 1 || base >= from {
		return Delta{}, false
	}
	return Delta{Name: name, From: from, To: to, Base: base, Time: t, Layers: layers}, true
}

// Listing is what a prefix holds: full snapshots newest first, deltas by
// revision.
type Listing struct {
	Bucket, Prefix string
	Fulls          []Full
	Deltas         []Delta
}

// Build sorts a bucket listing under prefix into fulls and deltas;
// anything else is not ours and is left out.
func Build(bucket, prefix string, objs []backup.Object) Listing {
	l := Listing{Bucket: bucket, Prefix: prefix}
	for _, o := range objs {
		name, ok := strings.CutPrefix(o.Key, prefix)
		if !ok {
			continue
		}
		if d, ok := ParseDelta(name); ok {
			d.Key, d.Size = o.Key, o.Size
			l.Deltas = append(l.Deltas, d)
			continue
		}
		if strings.Contains(name, "/") {
			continue
		}
		if t, ok := fullName(name); ok {
			f := Full{Key: o.Key, Name: name, Time: t, Size: o.Size}
			if o.Metadata != nil {
				f.read(o.Metadata)
			}
			l.Fulls = append(l.Fulls, f)
		}
	}
	sort.SliceStable(l.Fulls, func(i, j int) bool { return l.Fulls[i].Time.After(l.Fulls[j].Time) })
	sort.SliceStable(l.Deltas, func(i, j int) bool {
		a, b := l.Deltas[i], l.Deltas[j]
		if a.From != b.From {
			return a.From < b.From
		}
		return a.To < b.To
	})
	return l
}

// fullName is backup's reading of a full snapshot's name.
func fullName(name string) (time.Time, bool) {
	t, _, ok := backup.ParseName(name)
	return t, ok
}

// read takes a full snapshot's revision and cluster from its metadata.
func (f *Full) read(meta map[string]string) {
	f.Stated = true
	if r, err := strconv.ParseInt(meta[backup.MetaRevision], 10, 64); err == nil {
		f.Revision = r
	}
	f.ClusterID = meta[backup.MetaCluster]
}

// SetMetadata records a full snapshot's metadata (from Stat).
func (f *Full) SetMetadata(meta map[string]string) { f.read(meta) }

// Path is a run of deltas, each starting where the one before ended.
type Path struct {
	Base    int64 // the revision the first delta continues
	Deltas  []Delta
	Reached int64 // the last revision covered (Base when there are no deltas)
}

// Bytes is what the path's deltas store.
func (p Path) Bytes() int64 {
	var n int64
	for _, d := range p.Deltas {
		n += d.Size
	}
	return n
}

// reach finds, for every revision that the chain of the full snapshot f
// can reach, the delta that reaches it (the first found, in revision
// order). A chain's deltas name f's revision as their base and were taken
// after f: a delta of another chain never joins it, not even one that
// merely continues f's revision (an older chain's delta, when a cluster was
// restored to that revision; one taken while f itself was streaming).
func (l Listing) reach(f Full) map[int64]*step {
	base := f.Revision
	ends := map[int64]*step{base: nil}
	for i := range l.Deltas {
		d := &l.Deltas[i]
		prev, ok := ends[d.From-1]
		if !ok || !d.of(f) {
			continue
		}
		if _, seen := ends[d.To]; !seen {
			ends[d.To] = &step{d: d, prev: prev}
		}
	}
	return ends
}

// of says whether d may belong to the chain of f.
func (d *Delta) of(f Full) bool {
	return d.Base == f.Revision && d.From > f.Revision && !d.Time.Before(f.Time)
}

type step struct {
	d    *Delta
	prev *step
}

func (s *step) path(base int64) Path {
	p := Path{Base: base, Reached: base}
	if s != nil {
		p.Reached = s.d.To
	}
	for ; s != nil; s = s.prev {
		p.Deltas = append(p.Deltas, *s.d)
	}
	for i, j := 0, len(p.Deltas)-1; i < j; i, j = i+1, j-1 {
		p.Deltas[i], p.Deltas[j] = p.Deltas[j], p.Deltas[i]
	}
	return p
}

// Longest is the path from the full snapshot f that reaches the newest revision.
func (l Listing) Longest(f Full) Path {
	base := f.Revision
	ends := l.reach(f)
	best := base
	for e := range ends {
		best = max(best, e)
	}
	return ends[best].path(base)
}

// GapError names the revisions no delta covers.
type GapError struct {
	Full             string
	Reached, Next    int64 // Next: 0 when no delta starts after Reached
	Target           int64
	ReachedBy, After string // the delta ending at Reached, and the one starting at Next
}

func (e *GapError) Error() string {
	missing := fmt.Sprintf("revisions %d to %d", e.Reached+1, e.Target)
	if e.Next > 0 && e.Next-1 < e.Target {
		missing = fmt.Sprintf("revisions %d to %d", e.Reached+1, e.Next-1)
	}
	where := "the full snapshot " + e.Full
	if e.ReachedBy != "" {
		where = e.ReachedBy
	}
	s := fmt.Sprintf("the chain of %s has a gap: no delta covers %s (it reaches %d through %s", e.Full, missing, e.Reached, where)
	if e.After != "" {
		s += ", and " + e.After + " comes next"
	}
	return s + ")"
}

// To is the path from the full snapshot f to the first delta that covers
// target: the deltas to replay to end at exactly target. A gap is a
// *GapError.
func (l Listing) To(f Full, target int64) (Path, error) {
	base, full := f.Revision, f.Name
	if target == base {
		return Path{Base: base, Reached: base}, nil
	}
	ends := l.reach(f)
	// The covering delta that ends soonest: the least to fetch.
	var best *Delta
	var bestPrev *step
	for i := range l.Deltas {
		d := &l.Deltas[i]
		if d.From > target || d.To < target {
			continue
		}
		prev, ok := ends[d.From-1]
		if !ok || !d.of(f) {
			continue
		}
		if best == nil || d.To < best.To {
			best, bestPrev = d, prev
		}
	}
	if best != nil {
		return (&step{d: best, prev: bestPrev}).path(base), nil
	}
	// Name the gap: the furthest reachable revision below the target, and
	// the next delta after it.
	reached := base
	for e := range ends {
		if e < target {
			reached = max(reached, e)
		}
	}
	g := &GapError{Full: full, Reached: reached, Target: target}
	if s := ends[reached]; s != nil {
		g.ReachedBy = s.d.String()
	}
	for _, d := range l.Deltas {
		if d.From > reached+1 && d.of(f) {
			g.Next, g.After = d.From, d.String()
			break
		}
	}
	return Path{}, g
}

// NoFullError: no full snapshot can start a restore of the revision.
type NoFullError struct {
	Target int64
	Oldest int64 // the oldest full snapshot's revision (0: there is none)
}

func (e *NoFullError) Error() string {
	if e.Oldest == 0 {
		return fmt.Sprintf("no full snapshot to restore revision %d from: the prefix holds none", e.Target)
	}
	return fmt.Sprintf("no full snapshot at or before revision %d (the oldest is at %d)", e.Target, e.Oldest)
}

// Plan is the full snapshot and the deltas that restore revision target:
// of the full snapshots whose revision is at most target (taken at
// notAfter or before, when set), the newest whose chain reaches target,
// and the deltas from it to the first one that covers target. When none
// reaches it, the error is the newest one's gap. Fulls must have their
// metadata read (Stated).
func (l Listing) Plan(target int64, notAfter time.Time) (Full, Path, error) {
	oldest := int64(0)
	var first error
	var firstFull Full
	for _, f := range l.Fulls {
		if !f.Stated || f.Revision < 1 {
			continue
		}
		if oldest == 0 || f.Revision < oldest {
			oldest = f.Revision
		}
		if f.Revision > target || (!notAfter.IsZero() && f.Time.After(notAfter)) {
			continue
		}
		p, err := l.To(f, target)
		if err == nil {
			return f, p, nil
		}
		if first == nil {
			first, firstFull = err, f
		}
	}
	if first != nil {
		return firstFull, Path{}, first
	}
	return Full{}, Path{}, &NoFullError{Target: target, Oldest: oldest}
}
