package snapshot

import (
	"fmt"
	"sort"
	"time"

	"cronbox/es-snapshot/esclient"
)

// Policy is prune's retention policy. At least one of KeepLast and MaxAge
// is set; MinKeep is at least 1.
type Policy struct {
	KeepLast int           // keep the newest KeepLast good snapshots (0: no count limit)
	MaxAge   time.Duration // delete snapshots older than this (0: no age limit)
	MinKeep  int           // never delete the newest MinKeep good snapshots, whatever the rules say
}

// Check refuses policies that would delete everything or nothing.
func (p Policy) Check() error {
	switch {
	case p.MinKeep < 1:
		return fmt.Errorf("min-keep is %d: it must be at least 1, so pruning can never delete the last good snapshot", p.MinKeep)
	case p.KeepLast < 0:
		return fmt.Errorf("keep-last is %d: it must not be negative", p.KeepLast)
	case p.MaxAge < 0:
		return fmt.Errorf("max-age is %s: it must not be negative", p.MaxAge)
	case p.KeepLast == 0 && p.MaxAge == 0:
		return fmt.Errorf("neither keep-last nor max-age is set: nothing to prune by")
	}
	return nil
}

// Decision is what prune does with one snapshot, and why.
type Decision struct {
	Snapshot esclient.Snapshot
	Delete   bool
	Why      string
}

// Plan decides, newest first, the fate of every snapshot that owns says is
// ours. Running snapshots and other people's are left out entirely. A
// snapshot that is not good (PARTIAL, FAILED, INCOMPATIBLE) never counts as
// a kept backup, and goes once a newer good one exists.
func Plan(snaps []esclient.Snapshot, owns func(string) bool, p Policy, now time.Time) []Decision {
	var ours []esclient.Snapshot
	for _, s := range snaps {
		if owns(s.Name) && s.State != esclient.StateInProgress {
			ours = append(ours, s)
		}
	}
	sort.SliceStable(ours, func(i, j int) bool {
		if ours[i].StartTimeMillis != ours[j].StartTimeMillis {
			return ours[i].StartTimeMillis > ours[j].StartTimeMillis
		}
		return ours[i].Name > ours[j].Name
	})
	out := make([]Decision, 0, len(ours))
	good := 0 // good snapshots seen so far, i.e. newer than the current one
	for _, s := range ours {
		d := Decision{Snapshot: s}
		age := now.Sub(s.Start())
		old := p.MaxAge > 0 && !s.Start().IsZero() && age > p.MaxAge
		if s.Good() {
			good++
			switch {
			case good <= p.MinKeep:
				d.Why = fmt.Sprintf("one of the newest %d good snapshots (min-keep)", p.MinKeep)
			case p.KeepLast > 0 && good > p.KeepLast:
				d.Delete, d.Why = true, fmt.Sprintf("beyond the newest %d good snapshots (keep-last)", p.KeepLast)
			case old:
				d.Delete, d.Why = true, fmt.Sprintf("older than %s (max-age)", p.MaxAge)
			default:
				d.Why = "within the policy"
			}
		} else {
			switch {
			case good > 0:
				d.Delete, d.Why = true, fmt.Sprintf("%s, and a newer good snapshot exists", s.State)
			case old:
				d.Delete, d.Why = true, fmt.Sprintf("%s and older than %s (max-age)", s.State, p.MaxAge)
			default:
				d.Why = fmt.Sprintf("%s, kept until a newer good snapshot exists", s.State)
			}
		}
		out = append(out, d)
	}
	return out
}
