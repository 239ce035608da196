package chain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"cronbox/codec"
	"cronbox/etcd-backup/backup"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// bucket builds a listing: fulls as (minute, revision), deltas as (from,
// to, minute) of the chain of the last full added (or, with deltaOf, of
// the full at another revision).
type bucket struct {
	objs []backup.Object
	base int64
}

func (b *bucket) full(min int, rev int64) string {
	name := backup.BackupName(t0.Add(time.Duration(min)*time.Minute), codec.Layers{})
	b.objs = append(b.objs, backup.Object{Key: "p/" + name, Size: 1000, Metadata: map[string]string{backup.MetaRevision: fmt.Sprint(rev), backup.MetaCluster: "c1"}})
	b.base = rev
	return name
}

func (b *bucket) delta(from, to int64, min int) string { return b.deltaOf(b.base, from, to, min) }

func (b *bucket) deltaOf(base, from, to int64, min int) string {
	name := DeltaName(from, to, base, t0.Add(time.Duration(min)*time.Minute), codec.Layers{Compression: codec.Zstd})
	b.objs = append(b.objs, backup.Object{Key: "p/" + name, Size: 10})
	return name
}

func (b *bucket) listing() Listing { return Build("bkt", "p/", b.objs) }

func TestNames(t *testing.T) {
	name := DeltaName(101, 2000, 100, t0.Add(1500*time.Millisecond), codec.Layers{Compression: codec.Zstd, Encrypted: true})
	if name != "delta/000000000101-000000002000.20261201T100001.500Z.b000000000100.delta.zst.age" {
		t.Fatalf("name %s", name)
	}
	d, ok := ParseDelta(name)
	if !ok || d.From != 101 || d.To != 2000 || d.Base != 100 || !d.Time.Equal(t0.Add(1500*time.Millisecond)) || d.Layers.Compression != codec.Zstd || !d.Layers.Encrypted {
		t.Fatalf("parsed %+v %v", d, ok)
	}
	for _, bad := range []string{"delta/5-4.20261201T100000.000Z.b1.delta", "delta/0-4.20261201T100000.000Z.b1.delta", "delta/2-4.20261201T100000.000Z.b2.delta",
		"delta/2-4.20261201T100000.000Z.delta", "delta/1-4.delta", "x/2-4.20261201T100000.000Z.b1.delta", "delta/2-4.20261201T100000.000Z.b1.db"} {
		if _, ok := ParseDelta(bad); ok {
			t.Errorf("%s parsed as a delta", bad)
		}
	}
	var b bucket
	b.full(0, 100)
	b.delta(101, 110, 1)
	b.objs = append(b.objs, backup.Object{Key: "p/notes.txt"}, backup.Object{Key: "p/other/etcd-20261201T100000.000Z.db"}, backup.Object{Key: "q/etcd-20261201T100000.000Z.db"})
	l := b.listing()
	if len(l.Fulls) != 1 || len(l.Deltas) != 1 || l.Fulls[0].Revision != 100 || !l.Fulls[0].Stated {
		t.Fatalf("listing %+v", l)
	}
}

func TestPathsAndGaps(t *testing.T) {
	var b bucket
	full := b.full(0, 100)
	b.delta(101, 120, 1)
	b.delta(101, 150, 1) // overlapping (a run without the lock): a longer first step
	b.delta(121, 200, 2)
	b.delta(201, 300, 3)
	b.deltaOf(80, 90, 130, 0) // an older chain's delta: never on this chain's paths
	l := b.listing()

	f := l.Fulls[0]
	if p := l.Longest(f); p.Reached != 300 || len(p.Deltas) != 3 || p.Deltas[0].To != 120 {
		t.Fatalf("longest: %+v", p)
	}
	for _, tc := range []struct {
		target int64
		want   string
	}{{100, ""}, {101, "101-120"}, {140, "101-150"}, {150, "101-150"}, {151, "101-120 121-200"}, {300, "101-120 121-200 201-300"}} {
		p, err := l.To(f, tc.target)
		if err != nil {
			t.Fatalf("to %d: %v", tc.target, err)
		}
		var got []string
		for _, d := range p.Deltas {
			got = append(got, fmt.Sprintf("%d-%d", d.From, d.To))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("to %d: %v, want %s", tc.target, got, tc.want)
		}
	}
	// Beyond the newest delta, and a missing delta in the middle.
	_, err := l.To(f, 301)
	var g *GapError
	if !errors.As(err, &g) || !strings.Contains(err.Error(), "no delta covers revisions 301 to 301") || !strings.Contains(err.Error(), "through delta 201-300") {
		t.Fatalf("past the end: %v", err)
	}
	b.objs = b.objs[:0]
	full = b.full(0, 100)
	b.delta(101, 120, 1)
	b.delta(151, 200, 3) // 121-150 is missing
	l = b.listing()
	_, err = l.To(l.Fulls[0], 180)
	if !errors.As(err, &g) || err.Error() != "the chain of "+full+" has a gap: no delta covers revisions 121 to 150 (it reaches 120 through delta 101-120, and delta 151-200 comes next)" {
		t.Fatalf("gap: %v", err)
	}
}

func TestPlanPicksTheNewestFullAtOrBefore(t *testing.T) {
	var b bucket
	b.full(0, 100)
	b.delta(101, 200, 1)
	second := b.full(60, 250)
	b.delta(251, 300, 61)
	l := b.listing()
	f, p, err := l.Plan(280, time.Time{})
	if err != nil || f.Name != second || len(p.Deltas) != 1 {
		t.Fatalf("280: %s %+v %v", f.Name, p, err)
	}
	if f, p, err = l.Plan(150, time.Time{}); err != nil || f.Revision != 100 || len(p.Deltas) != 1 {
		t.Fatalf("150: %+v %+v %v", f, p, err)
	}
	// Revisions 201-249 are covered by no chain.
	if _, _, err = l.Plan(220, time.Time{}); err == nil || !strings.Contains(err.Error(), "no delta covers revisions 201 to 220") {
		t.Fatalf("220: %v", err)
	}
	var nf *NoFullError
	if _, _, err = l.Plan(50, time.Time{}); !errors.As(err, &nf) || nf.Oldest != 100 {
		t.Fatalf("50: %v", err)
	}
}

// Retention keeps what every kept point needs: its full snapshot and every
// delta up to it; everything else goes, including deltas no chain reaches.
func TestRetainKeepsChains(t *testing.T) {
	var b bucket
	oldFull := b.full(0, 100)
	oldDeltas := []string{b.delta(101, 110, 1), b.delta(111, 120, 2), b.delta(121, 130, 3)}
	full := b.full(60, 200)
	d1 := b.delta(201, 210, 61)
	d2 := b.delta(211, 220, 62)
	d3 := b.delta(221, 230, 63)
	orphan := b.delta(300, 310, 64) // after a gap
	l := b.listing()
	points := l.Points()
	if len(points) != 8 || points[0].Name != d3 || len(points[0].Deltas()) != 3 {
		t.Fatalf("points: %d, first %+v", len(points), points[0])
	}
	// Keep only the point at d2's end: d2's chain stays, d3 goes.
	ds := l.Retain(func(ps []Point) [][]string {
		r := make([][]string, len(ps))
		for i, p := range ps {
			if p.Name == d2 {
				r[i] = []string{"picked"}
			}
		}
		return r
	})
	kept := map[string]string{}
	for _, d := range ds {
		if d.Keep {
			kept[d.Name] = d.Why
		}
	}
	if len(kept) != 3 || kept[d2] != "picked" || !strings.HasPrefix(kept[d1], "inside the kept chain") || !strings.HasPrefix(kept[full], "base of the kept chain") {
		t.Fatalf("kept %v", kept)
	}
	for _, gone := range append(oldDeltas, oldFull, d3, orphan) {
		if _, ok := kept[gone]; ok {
			t.Errorf("%s kept", gone)
		}
	}
	// Keeping the old chain's middle keeps its full and its first two deltas.
	ds = l.Retain(func(ps []Point) [][]string {
		r := make([][]string, len(ps))
		for i, p := range ps {
			if p.Name == oldDeltas[1] {
				r[i] = []string{"old"}
			}
		}
		return r
	})
	n := 0
	for _, d := range ds {
		if d.Keep {
			n++
			if d.Name != oldFull && d.Name != oldDeltas[0] && d.Name != oldDeltas[1] {
				t.Errorf("kept %s", d.Name)
			}
		}
	}
	if n != 3 {
		t.Fatalf("kept %d", n)
	}
}

// A full snapshot taken at the revision where an older chain's delta ended
// (a cluster restored to that point) starts a chain of its own: the older
// chain's next delta, taken before it, is not on its paths.
func TestOlderChainsDeltasAreNotANewFullsChain(t *testing.T) {
	var b bucket
	b.full(0, 100)
	b.delta(101, 120, 1)
	b.delta(121, 130, 2)        // old history after 120
	b.full(5, 120)              // restored at 120, new history from here
	b.deltaOf(100, 121, 140, 6) // the old chain again, after the new full: not on its paths either
	b.delta(121, 125, 6)
	l := b.listing()
	if p := l.Longest(l.Fulls[0]); p.Reached != 125 || len(p.Deltas) != 1 || p.Deltas[0].Time != t0.Add(6*time.Minute) {
		t.Fatalf("the new full's chain: %+v", p)
	}
	// A revision both histories hold comes from the newest (the restored
	// cluster's); one only the old history reached, from the old.
	if f, p, err := l.Plan(123, time.Time{}); err != nil || f.Revision != 120 || p.Reached != 125 {
		t.Fatalf("123: %+v %+v %v", f, p, err)
	}
	if f, p, err := l.Plan(128, time.Time{}); err != nil || f.Revision != 100 || p.Reached != 130 {
		t.Fatalf("128 is only in the old history: %+v %+v %v", f, p, err)
	}
	if f, p, err := l.Plan(128, t0.Add(3*time.Minute)); err != nil || f.Revision != 100 || p.Reached != 130 {
		t.Fatalf("128 as of minute 3, in the old history: %+v %+v %v", f, p, err)
	}
	// Without a time, the newest full whose chain reaches it: the old one,
	// through the delta taken after the new full.
	if f, p, err := l.Plan(138, time.Time{}); err != nil || f.Revision != 100 || p.Reached != 140 {
		t.Fatalf("138: %+v %+v %v", f, p, err)
	}
}
