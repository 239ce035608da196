package schedule

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// maxShift is the largest offset change treated as daylight saving; a
// larger one is a correction of the zone, and its wall-clock times are used
// as they come (cronie: "time changes of more than 3 hours").
const maxShift = 3 * time.Hour

// wallClock is a cron spec matched against the wall clock of a zone, with
// cronie's (Vixie cron's) rules where the zone's offset changes:
//   - a fixed-time job (neither its minute nor its hour field starts with
//     '*') due in wall-clock times that a change skips runs once, at the
//     instant of the change; a wildcard job's skipped slots are just gone;
//   - in wall-clock times that a change repeats, a fixed-time job runs the
//     first time only, a wildcard job both times (an hourly job stays
//     hourly).
//
// cron/v3's own Next works in the zone and does neither: it skips the
// fixed-time job on the spring day and runs it twice in the autumn.
type wallClock struct {
	spec  *cron.SpecSchedule // Location UTC: matched against wall-clock readings written as UTC
	loc   *time.Location
	fixed bool
}

// wall is the wall-clock reading of instant t at offset off, written as UTC.
func wall(t time.Time, off time.Duration) time.Time { return t.UTC().Add(off) }

func offsetAt(t time.Time, loc *time.Location) time.Duration {
	_, off := t.In(loc).Zone()
	return time.Duration(off) * time.Second
}

// Next is the first fire time strictly after t.
func (w *wallClock) Next(t time.Time) time.Time {
	limit := t.AddDate(5, 0, 1)
	for t.Before(limit) {
		// The zone period holding the first instant after t.
		s := t.Add(time.Nanosecond)
		start, end := zoneBounds(s, w.loc)
		off := offsetAt(s, w.loc)
		from := wall(t, off) // exclusive
		if w.fixed && !start.IsZero() {
			// After a change back, the wall-clock times before the old
			// offset's reading of the change have been seen already.
			prev := offsetAt(start.Add(-time.Nanosecond), w.loc)
			if shift := prev - off; shift > 0 && shift <= maxShift {
				if seen := wall(start, prev); from.Before(seen) {
					from = seen.Add(-time.Nanosecond)
				}
			}
		}
		m := w.spec.Next(from)
		if m.IsZero() {
			return time.Time{}
		}
		at := m.Add(-off)
		if end.IsZero() || at.Before(end) {
			return at
		}
		// Nothing before the next change; m is at or after the wall-clock
		// reading of the change at the old offset.
		if next := offsetAt(end, w.loc); w.fixed && next > off && next-off <= maxShift {
			if m.Before(wall(end, next)) { // m does not exist: run right after the change
				return end
			}
		}
		t = end.Add(-time.Nanosecond)
	}
	return time.Time{}
}

// Note says why fire time at (returned by Next) is where it is, when an
// offset change moved or suppressed a slot around it; "" otherwise.
func (w *wallClock) Note(at time.Time) string {
	start, end := zoneBounds(at, w.loc)
	off := offsetAt(at, w.loc)
	if w.fixed && start.Equal(at) {
		if prev := offsetAt(at.Add(-time.Nanosecond), w.loc); off > prev && off-prev <= maxShift {
			if m := w.spec.Next(wall(at, prev).Add(-time.Nanosecond)); m.Before(wall(at, off)) {
				abbr, _ := at.In(w.loc).Zone()
				return fmt.Sprintf("for %s, which the change to %s skips: a fixed-time job runs right after the change", m.Format("15:04:05"), abbr)
			}
		}
	}
	at0 := wall(at, off)
	if !end.IsZero() {
		if next := offsetAt(end, w.loc); next < off && off-next <= maxShift && !at0.Before(wall(end, next)) {
			abbr, _ := end.In(w.loc).Zone()
			if w.fixed {
				return fmt.Sprintf("%s comes again in %s: a fixed-time job runs the first time only", at0.Format("15:04:05"), abbr)
			}
			return fmt.Sprintf("%s comes again in %s: a wildcard job runs both times", at0.Format("15:04:05"), abbr)
		}
	}
	if !start.IsZero() && !w.fixed {
		if prev := offsetAt(start.Add(-time.Nanosecond), w.loc); prev > off && prev-off <= maxShift && at0.Before(wall(start, prev)) {
			abbr, _ := at.In(w.loc).Zone()
			return fmt.Sprintf("the repeated %s in %s: a wildcard job runs again", at0.Format("15:04:05"), abbr)
		}
	}
	return ""
}

// zoneBounds is time.Time.ZoneBounds, checked: past a zone's explicit
// transitions Go computes the periods from the zone's rule, and for leap
// years it has answered a period that ends at or before t (Europe/Berlin,
// 2040-12-31T00:00Z). Then the end is found by probing.
func zoneBounds(t time.Time, loc *time.Location) (start, end time.Time) {
	start, end = t.In(loc).ZoneBounds()
	if start.After(t) {
		start = time.Time{}
	}
	if end.IsZero() || end.After(t) {
		return start, end
	}
	off := offsetAt(t, loc)
	const step = 6 * time.Hour
	lo := t
	for hi := t.Add(step); hi.Before(t.AddDate(1, 1, 0)); hi = hi.Add(step) {
		if offsetAt(hi, loc) == off {
			lo = hi
			continue
		}
		for hi.Sub(lo) > time.Second { // the change is in (lo, hi]
			mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
			if offsetAt(mid, loc) == off {
				lo = mid
			} else {
				hi = mid
			}
		}
		return start, hi
	}
	return start, time.Time{}
}
