// Package retention decides which backups a tiered policy keeps, with
// restic's `forget --keep-last/--keep-hourly/--keep-daily/--keep-weekly/
// --keep-monthly/--keep-yearly` semantics, which users know: going from the
// newest backup to the oldest, each tier keeps the newest backup of each
// hour (day, ISO week, month, year) that has a backup, until its count is
// used up; -1 keeps one per period for ever; the oldest backup is kept too
// while a tier still has counts left; a backup is kept when any tier keeps
// it. Periods are UTC, as backup names are. The tools add their own rules
// on top (keep-within, min-keep, object locks); this package only answers
// "which tiers keep this backup, and why".
package retention

import (
	"fmt"
	"strings"
	"time"
)

// Policy is the count of each tier; 0 is off, -1 is "every period".
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
}

// tier is one rule: its name, its count, and the period a time falls in.
type tier struct {
	name   string
	count  int
	period func(t time.Time, i int) string
}

func (p Policy) tiers() []tier {
	return []tier{
		{"last", p.Last, func(_ time.Time, i int) string { return fmt.Sprint(i) }},
		{"hourly", p.Hourly, func(t time.Time, _ int) string { return t.Format("2006-01-02T15") }},
		{"daily", p.Daily, func(t time.Time, _ int) string { return t.Format("2006-01-02") }},
		{"weekly", p.Weekly, func(t time.Time, _ int) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%d-W%02d", y, w)
		}},
		{"monthly", p.Monthly, func(t time.Time, _ int) string { return t.Format("2006-01") }},
		{"yearly", p.Yearly, func(t time.Time, _ int) string { return t.Format("2006") }},
	}
}

// Empty reports whether no tier is set.
func (p Policy) Empty() bool { return p == Policy{} }

// Check refuses counts below -1; the error names the tier's flag stem
// ("keep-daily").
func (p Policy) Check() error {
	if p.Last < 0 {
		// restic reads -1 as "keep every backup": a prune that can delete
		// nothing is a mistake in a job, not a policy.
		return fmt.Errorf("keep-last %d: want a count (to keep every backup, do not prune)", p.Last)
	}
	for _, t := range p.tiers() {
		if t.count < -1 {
			return fmt.Errorf("keep-%s %d: want a count, or -1 for no limit", t.name, t.count)
		}
	}
	return nil
}

// String says the policy in words: "last 3, daily 7, weekly every".
func (p Policy) String() string {
	var s []string
	for _, t := range p.tiers() {
		switch {
		case t.count > 0:
			s = append(s, fmt.Sprintf("%s %d", t.name, t.count))
		case t.count == -1:
			s = append(s, t.name+" all")
		}
	}
	if len(s) == 0 {
		return "no tiers"
	}
	return strings.Join(s, ", ")
}

// Keep applies the policy to backup times sorted newest first, and returns
// for each the reasons the tiers keep it ("daily 2026-11-27"), or nil.
func (p Policy) Keep(times []time.Time) [][]string {
	tiers := p.tiers()
	last := make([]string, len(tiers))
	seen := make([]bool, len(tiers))
	out := make([][]string, len(times))
	for i, t := range times {
		t = t.UTC()
		for k := range tiers {
			tr := &tiers[k]
			if tr.count == 0 {
				continue
			}
			period := tr.period(t, i)
			oldest := i == len(times)-1
			if seen[k] && period == last[k] && !oldest {
				continue
			}
			reason := tr.name + " " + period
			switch {
			case tr.name == "last":
				reason = "last"
			case seen[k] && period == last[k]: // the oldest backup, with counts left
				reason = "oldest, " + tr.name + " has room"
			}
			out[i] = append(out[i], reason)
			last[k], seen[k] = period, true
			if tr.count > 0 {
				tr.count--
			}
		}
	}
	return out
}
