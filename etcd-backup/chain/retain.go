package chain

import (
	"sort"
	"strings"
	"time"
)

// Point is a moment a restore can return to: a full snapshot, or the last
// revision of a delta that a full snapshot's chain reaches.
type Point struct {
	Time     time.Time
	Revision int64  // 0: a full snapshot whose metadata names no revision
	Name     string // the object that ends here (a full's or a delta's name)
	IsFull   bool
	Full     *Full // the full snapshot a restore of this point starts from
	last     *step // the last delta a restore replays (nil: none)
}

// Deltas are the deltas a restore of p replays, oldest first.
func (p Point) Deltas() []Delta {
	if p.Full == nil {
		return nil
	}
	return p.last.path(p.Full.Revision).Deltas
}

// Points lists every point in time the listing restores, newest first.
// Each delta's end is a point when the full snapshot it builds on (the
// newest of that revision taken before it) reaches it through deltas
// without a gap; a delta no chain reaches is no point (it cannot be
// restored). Fulls must have their metadata read for their chains to count.
func (l Listing) Points() []Point {
	var ps []Point
	fulls := make([]*Full, 0, len(l.Fulls))
	for i := range l.Fulls {
		f := &l.Fulls[i]
		ps = append(ps, Point{Time: f.Time, Revision: f.Revision, Name: f.Name, IsFull: true, Full: f})
		if f.Revision > 0 {
			fulls = append(fulls, f)
		}
	}
	ends := map[*Full]map[int64]*step{}
	for _, d := range l.Deltas {
		var base *Full
		for _, f := range fulls { // newest first
			if d.of(*f) {
				base = f
				break
			}
		}
		if base == nil {
			continue
		}
		e, ok := ends[base]
		if !ok {
			e = l.reach(*base)
			ends[base] = e
		}
		s, ok := e[d.To]
		if !ok {
			continue
		}
		ps = append(ps, Point{Time: d.Time, Revision: d.To, Name: d.Name, Full: base, last: s})
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if !ps[i].Time.Equal(ps[j].Time) {
			return ps[i].Time.After(ps[j].Time)
		}
		return ps[i].IsFull && !ps[j].IsFull // a full and a delta ending at once: the full first
	})
	return ps
}

// Rule says why each point (newest first) is kept; nil: it is not.
type Rule func(points []Point) [][]string

// Decision is the verdict on one object under the prefix.
type Decision struct {
	Key, Name string
	Time      time.Time
	IsFull    bool
	Keep      bool
	Why       string
}

// Retain applies rule to the points in time and keeps, for every kept
// point, the full snapshot it starts from and every delta up to it: a full
// snapshot that a kept delta builds on is never deleted, nor a delta inside
// a kept chain. Deltas that no chain reaches (after a gap) are not points,
// and are deleted unless rule's caller keeps them otherwise. The decisions
// cover every full and delta, newest first.
func (l Listing) Retain(rule Rule) []Decision {
	points := l.Points()
	reasons := rule(points)
	why := map[string][]string{}   // object name -> reasons
	seen := map[*step]bool{}       // deltas already walked for a newer kept point
	fullNeeded := map[*Full]bool{} // base of a kept point
	for i, p := range points {
		if len(reasons[i]) == 0 {
			continue
		}
		why[p.Name] = append(why[p.Name], reasons[i]...)
		if p.Full == nil {
			continue
		}
		if !p.IsFull {
			if !fullNeeded[p.Full] {
				fullNeeded[p.Full] = true
				why[p.Full.Name] = append(why[p.Full.Name], "base of the kept chain up to "+p.Time.UTC().Format(time.RFC3339))
			}
			// The deltas before this point: a newer kept point of the same
			// chain walked them already (points come newest first).
			for s := p.last; s != nil && !seen[s]; s = s.prev {
				seen[s] = true
				if s.d.Name != p.Name {
					why[s.d.Name] = append(why[s.d.Name], "inside the kept chain up to "+p.Time.UTC().Format(time.RFC3339))
				}
			}
		}
	}
	var ds []Decision
	for _, f := range l.Fulls {
		ds = append(ds, decision(f.Key, f.Name, f.Time, true, why[f.Name]))
	}
	for _, d := range l.Deltas {
		ds = append(ds, decision(d.Key, d.Name, d.Time, false, why[d.Name]))
	}
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Time.After(ds[j].Time) })
	return ds
}

func decision(key, name string, t time.Time, full bool, why []string) Decision {
	d := Decision{Key: key, Name: name, Time: t, IsFull: full, Keep: len(why) > 0}
	if d.Keep {
		d.Why = strings.Join(why, "; ")
	} else {
		d.Why = "outside the retention policy"
	}
	return d
}
