// Package schedule reads go-cron's schedule strings: six fields with seconds
// first (the cron.v2 syntax), five fields (minute first as every cron reads
// them, or seconds first as the original go-cron did, by choice), the
// descriptors (@hourly, @every 10s) and a CRON_TZ=/TZ= prefix. robfig/cron/v3
// parses each field; on top of it this package names the offending field in
// errors, takes 7 as Sunday, refuses Quartz's L, W and # in words, says the
// schedule in words, and computes fire times on the zone's wall clock with
// cronie's rules where daylight saving skips or repeats an hour (see
// wallClock).
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
	Form     string         // "6 fields, seconds first", "5 fields, minute first (standard cron)", "descriptor @hourly", ...
	Words    string         // the reading in words: "at second 0 of every 5th minute"
	Location *time.Location // the zone fire times are computed in
	// FiveFields is set for a five-field schedule: how the other reading
	// would have read it, and how to write that one.
	FiveFields *Alternative
}

// Alternative is the reading of a five-field schedule that was not chosen.
type Alternative struct {
	Fields Fields // the reading not chosen
	Words  string // what it would have meant; "" when it is not valid in that reading
	Six    string // the six-field schedule (seconds first) that means it under any reading
}

// Note says why fire time t (one of Next's) sits where it does, when a
// daylight-saving change moved a slot to it or makes it come twice; "".
func (s *Schedule) Note(t time.Time) string {
	if w, ok := s.Expression.(*wallClock); ok {
		return w.Note(t)
	}
	return ""
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
	fieldOpts  = []cron.ParseOption{cron.Second, cron.Minute, cron.Hour, cron.Dom, cron.Month, cron.Dow}
	sixParser  = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	descParser = cron.NewParser(cron.Descriptor)
)

// Options say how to read a schedule.
type Options struct {
	Location *time.Location // used when the text has no CRON_TZ=/TZ= prefix; nil: time.Local
	Fields   Fields         // how five fields are read
}

// Parse reads text with five fields minute first. defaultLoc is used when
// text has no CRON_TZ=/TZ= prefix (nil means time.Local).
func Parse(text string, defaultLoc *time.Location) (*Schedule, error) {
	return ParseWith(text, Options{Location: defaultLoc})
}

// ParseWith reads text as o says.
func ParseWith(text string, o Options) (*Schedule, error) {
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	fail := func(field, value string, err error) (*Schedule, error) {
		return nil, &Error{Text: text, Field: field, Value: value, Err: err}
	}
	spec := strings.TrimSpace(text)
	prefix := "" // "CRON_TZ=Zone ", kept for the other reading's text
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		var rest string
		prefix, rest, _ = strings.Cut(spec, " ")
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
		prefix += " "
	}
	if spec == "" {
		return fail("", "", errors.New("empty schedule"))
	}

	s := &Schedule{Text: text, Location: loc}
	var six []string // the fields, seconds first
	if strings.HasPrefix(spec, "@") {
		word, arg, _ := strings.Cut(spec, " ")
		s.Form = "descriptor " + word
		if word == "@every" {
			// cron/v3 takes "@every -5s" and "@every 0s" and rounds them up
			// to one second: refuse a non-positive interval instead.
			if d, derr := time.ParseDuration(strings.TrimSpace(arg)); derr == nil && d <= 0 {
				return fail("", "", fmt.Errorf("@every %s: the interval must be positive", strings.TrimSpace(arg)))
			}
			expr, err := descParser.Parse(spec)
			if err != nil {
				return fail("", "", err)
			}
			s.Expression = expr
			s.Words = "every " + strings.TrimSpace(arg) + ", counted from go-cron's start (not aligned to the clock)"
			return s, nil
		}
		d, ok := descriptors[strings.ToLower(spec)]
		if !ok {
			return fail("", "", fmt.Errorf("unrecognized descriptor %s (want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every DURATION)", spec))
		}
		six = strings.Fields(d)
	} else {
		fields := strings.Fields(spec)
		names := sixFields
		switch {
		case len(fields) == 6:
			s.Form = "6 fields, seconds first"
			six = fields
		case len(fields) == 5 && o.Fields == Seconds:
			s.Form = "5 fields, seconds first (the original go-cron's reading; day-of-week *)"
			names = sixFields[:5]
			six = append(append([]string{}, fields...), "*")
		case len(fields) == 5:
			s.Form = "5 fields, minute first (standard cron)"
			names = sixFields[1:]
			six = append([]string{"0"}, fields...)
		default:
			return fail("", "", fmt.Errorf("want 5 fields (minute first) or 6 (seconds first), found %d", len(fields)))
		}
		// Name the field at fault: cron/v3 says what is wrong, not where.
		for i, f := range fields {
			if err := unsupported(f); err != nil {
				return fail(names[i], f, err)
			}
		}
		if len(fields) == 5 {
			alt := &Alternative{Fields: Seconds}
			if o.Fields == Seconds {
				alt.Fields = Standard
				alt.Six = prefix + "0 " + spec
			} else {
				alt.Six = prefix + spec + " *"
			}
			s.FiveFields = alt
		}
	}
	norm := make([]string, 6)
	for i, f := range six {
		norm[i] = f
		if sixFields[i] == "day-of-week" {
			folded, err := foldSunday(f)
			if err != nil {
				return fail(sixFields[i], f, err)
			}
			norm[i] = folded
		}
		if _, err := cron.NewParser(fieldOpts[i]).Parse(norm[i]); err != nil {
			return fail(sixFields[i], f, err)
		}
	}
	spec6, err := sixParser.Parse(strings.Join(norm, " "))
	if err != nil {
		return fail("", "", err)
	}
	ss := spec6.(*cron.SpecSchedule)
	ss.Location = time.UTC
	// cronie's fixed-time jobs: neither the minute nor the hour field starts
	// with '*' (see wallClock).
	fixed := !strings.HasPrefix(six[1], "*") && !strings.HasPrefix(six[2], "*") &&
		!strings.HasPrefix(six[1], "?") && !strings.HasPrefix(six[2], "?")
	s.Expression = &wallClock{spec: ss, loc: loc, fixed: fixed}
	s.Words = words(six)
	if alt := s.FiveFields; alt != nil {
		if other, err := ParseWith(alt.Six, Options{Location: loc}); err == nil {
			alt.Words = other.Words
		}
	}
	// cron/v3 gives up after five years and returns the zero time
	// ("0 0 30 2 *", February 30th): refuse it now, not never.
	if s.Next(time.Now()).IsZero() {
		return fail("", "", errors.New("never fires"))
	}
	return s, nil
}

// Other says, for a five-field schedule, the reading that was not taken and
// how to ask for it: "the original go-cron read it seconds first (every 5th
// second): write \"*/5 * * * * *\" or set GOCRON_FIELDS=seconds for that".
func (s *Schedule) Other() string {
	alt := s.FiveFields
	if alt == nil {
		return ""
	}
	if alt.Words == "" {
		if alt.Fields == Seconds {
			return "the original go-cron read 5 fields seconds first; this schedule is not valid in that reading"
		}
		return "standard cron reads 5 fields minute first; this schedule is not valid in that reading"
	}
	if alt.Fields == Seconds {
		return fmt.Sprintf("the original go-cron read 5 fields seconds first (%s): for that, write %q or set GOCRON_FIELDS=seconds", alt.Words, alt.Six)
	}
	return fmt.Sprintf("standard cron reads 5 fields minute first (%s): for that, write %q or unset GOCRON_FIELDS", alt.Words, alt.Six)
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
