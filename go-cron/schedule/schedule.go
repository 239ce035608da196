// Package schedule reads go-cron's schedule strings: six fields with seconds
// first (the cron.v2 syntax), five standard fields, the descriptors (@hourly,
// @every 10s) and a CRON_TZ=/TZ= prefix. It wraps robfig/cron/v3's parser and
// adds what that parser lacks: the name of the offending field in errors, a
// prefix without a trailing schedule that does not panic, and a check that
// the schedule fires at all.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Expression is the only thing the scheduler needs from a schedule: the first
// fire time strictly after t, or the zero time when there is none.
type Expression interface {
	Next(t time.Time) time.Time
}

// Schedule is a parsed schedule and how it was read.
type Schedule struct {
	Expression
	Text     string         // as given
	Form     string         // "6 fields, seconds first", "5 fields, standard", "descriptor @hourly", ...
	Location *time.Location // the zone fire times are computed in
}

// Error is a schedule that could not be read.
type Error struct {
	Text  string // the whole schedule
	Field string // "seconds", "minutes", ... or "" when no single field is at fault
	Value string // the offending field's text
	Err   error
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("schedule %q: field %s %q: %v", e.Text, e.Field, e.Value, e.Err)
	}
	return fmt.Sprintf("schedule %q: %v", e.Text, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

var (
	sixFields  = []string{"seconds", "minutes", "hours", "day-of-month", "month", "day-of-week"}
	fieldOpts  = []cron.ParseOption{cron.Second, cron.Minute, cron.Hour, cron.Dom, cron.Month, cron.Dow}
	fullParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
)

// Parse reads text. defaultLoc is used when text has no CRON_TZ=/TZ= prefix
// (nil means time.Local).
func Parse(text string, defaultLoc *time.Location) (*Schedule, error) {
	if defaultLoc == nil {
		defaultLoc = time.Local
	}
	fail := func(field, value string, err error) (*Schedule, error) {
		return nil, &Error{Text: text, Field: field, Value: value, Err: err}
	}
	spec := strings.TrimSpace(text)
	loc := defaultLoc
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		prefix, rest, _ := strings.Cut(spec, " ")
		_, name, _ := strings.Cut(prefix, "=")
		l, err := time.LoadLocation(name)
		if err != nil || name == "" {
			if err == nil {
				err = errors.New("empty time zone name")
			}
			return fail("time zone", name, err)
		}
		loc = l
		spec = strings.TrimSpace(rest)
	}
	if spec == "" {
		return fail("", "", errors.New("empty schedule"))
	}

	s := &Schedule{Text: text, Location: loc}
	if strings.HasPrefix(spec, "@") {
		word, _, _ := strings.Cut(spec, " ")
		s.Form = "descriptor " + word
	} else {
		fields := strings.Fields(spec)
		names := sixFields
		opts := fieldOpts
		switch len(fields) {
		case 6:
			s.Form = "6 fields, seconds first"
		case 5:
			s.Form = "5 fields, standard (minute first, second 0)"
			names, opts = sixFields[1:], fieldOpts[1:]
		default:
			return fail("", "", fmt.Errorf("want 5 fields (minute first) or 6 (seconds first), found %d", len(fields)))
		}
		// cron/v3 says what is wrong but not where: try each field alone.
		for i, f := range fields {
			if _, err := cron.NewParser(opts[i]).Parse(f); err != nil {
				return fail(names[i], f, err)
			}
		}
	}
	expr, err := fullParser.Parse(spec)
	if err != nil {
		return fail("", "", err)
	}
	// cron/v3 takes "@every -5s" and "@every 0s" and rounds them up to one
	// second: refuse a non-positive interval instead.
	if word, arg, _ := strings.Cut(spec, " "); word == "@every" {
		if d, derr := time.ParseDuration(strings.TrimSpace(arg)); derr == nil && d <= 0 {
			return fail("", "", fmt.Errorf("@every %s: the interval must be positive", strings.TrimSpace(arg)))
		}
	}
	if ss, ok := expr.(*cron.SpecSchedule); ok {
		ss.Location = loc
	}
	s.Expression = expr
	// cron/v3 gives up after five years and returns the zero time
	// ("0 0 30 2 *", February 30th): refuse it now, not never.
	if s.Next(time.Now()).IsZero() {
		return fail("", "", errors.New("never fires"))
	}
	return s, nil
}

// NextN returns the next n fire times after t.
func NextN(e Expression, t time.Time, n int) []time.Time {
	out := make([]time.Time, 0, n)
	for range n {
		t = e.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}
