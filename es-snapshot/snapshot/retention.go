package snapshot

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"cronbox/es-snapshot/esclient"
	"cronbox/retention"
)

// Policy is prune's retention policy: restic-style tiers (the newest
// KeepLast good snapshots, and the newest good snapshot of each of the last
// N hours, days, weeks, months and years), MaxAge as a limit over all of
// them, and MinKeep, which no rule overrides. At least one tier or MaxAge
// is set; MinKeep is at least 1.
type Policy struct {
	KeepLast int              // keep the newest KeepLast good snapshots (0: no count limit)
	Tiers    retention.Policy // the hourly ... yearly tiers (Tiers.Last is KeepLast's)
	MaxAge   time.Duration    // delete snapshots older than this (0: no age limit)
	MinKeep  int              // never delete the newest MinKeep good snapshots, whatever the rules say
}

func (p Policy) tiers() retention.Policy {
	t := p.Tiers
	t.Last = p.KeepLast
	return t
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
	}
	if err := p.tiers().Check(); err != nil {
		return err
	}
	if p.tiers().Empty() && p.MaxAge == 0 {
		return fmt.Errorf("neither keep-last nor max-age is set, nor a keep-hourly/daily/weekly/monthly/yearly tier: nothing to prune by")
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
// a kept backup, and goes once a newer good one exists. Good snapshots go
// through the tiers (restic's forget semantics, see cronbox/retention): one
// kept by no tier goes; MaxAge removes what is older whatever the tiers
// say; the newest MinKeep good ones stay whatever the rules say.
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
	var goodTimes []time.Time
	for _, s := range ours {
		if s.Good() {
			goodTimes = append(goodTimes, s.Start())
		}
	}
	tiers := p.tiers()
	reasons := tiers.Keep(goodTimes)
	out := make([]Decision, 0, len(ours))
	good := 0 // good snapshots seen so far, i.e. newer than the current one
	for _, s := range ours {
		d := Decision{Snapshot: s}
		age := now.Sub(s.Start())
		old := p.MaxAge > 0 && !s.Start().IsZero() && age > p.MaxAge
		if s.Good() {
			why := reasons[good]
			good++
			switch {
			case good <= p.MinKeep:
				d.Why = strings.Join(append([]string{fmt.Sprintf("one of the newest %d good snapshots (min-keep)", p.MinKeep)}, why...), "; ")
			case old:
				d.Delete, d.Why = true, fmt.Sprintf("older than %s (max-age)", p.MaxAge)
			case tiers.Empty():
				d.Why = "within the policy"
			case len(why) > 0:
				d.Why = strings.Join(why, "; ")
			case p.KeepLast > 0 && tiers == (retention.Policy{Last: p.KeepLast}):
				d.Delete, d.Why = true, fmt.Sprintf("beyond the newest %d good snapshots (keep-last)", p.KeepLast)
			default:
				d.Delete, d.Why = true, "kept by no tier ("+tiers.String()+")"
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
