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
	s, err := parse(text, o)
	var e *Error
	if errors.As(err, &e) {
		e.Text = text
	}
	return s, err
}

// fieldError is a refusal naming the field at fault ("" when none is);
// ParseWith adds the schedule's text.
func fieldError(field, value string, err error) *Error {
	return &Error{Field: field, Value: value, Err: err}
}

func parse(text string, o Options) (*Schedule, error) {
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	prefix, spec, zone, err := cutZone(strings.TrimSpace(text))
	if err != nil {
		return nil, err
	}
	if zone != nil {
		loc = zone
	}
	if spec == "" {
		return nil, fieldError("", "", errors.New("empty schedule"))
	}
	s := &Schedule{Text: text, Location: loc}
	var six []string // the fields, seconds first
	if strings.HasPrefix(spec, "@") {
		if six, err = s.descriptor(spec); err != nil {
			return nil, err
		}
		if six == nil { // @every is read whole
			return s, nil
		}
	} else if six, err = s.fields(spec, prefix, o.Fields); err != nil {
		return nil, err
	}
	if err := s.compile(six); err != nil {
		return nil, err
	}
	return s, nil
}

// cutZone takes a CRON_TZ=Zone or TZ=Zone prefix off spec: the prefix as
// written (with its space, kept for the other reading's text), the rest,
// and the zone (nil without a prefix).
func cutZone(spec string) (prefix, rest string, zone *time.Location, err error) {
	if !strings.HasPrefix(spec, "TZ=") && !strings.HasPrefix(spec, "CRON_TZ=") {
		return "", spec, nil, nil
	}
	prefix, rest, _ = strings.Cut(spec, " ")
	_, name, _ := strings.Cut(prefix, "=")
	zone, err = time.LoadLocation(name)
	if err != nil || name == "" {
		if err == nil {
			err = errors.New("empty time zone name")
		}
		return "", "", nil, fieldError("time zone", name, err)
	}
	return prefix + " ", strings.TrimSpace(rest), zone, nil
}

// descriptor reads @hourly, @daily, ... as their six fields; @every
// DURATION is complete on its own (no fields: nil).
func (s *Schedule) descriptor(spec string) ([]string, error) {
	word, arg, _ := strings.Cut(spec, " ")
	s.Form = "descriptor " + word
	if word == "@every" {
		// cron/v3 takes "@every -5s" and "@every 0s" and rounds them up
		// to one second: refuse a non-positive interval instead.
		if d, derr := time.ParseDuration(strings.TrimSpace(arg)); derr == nil && d <= 0 {
			return nil, fieldError("", "", fmt.Errorf("@every %s: the interval must be positive", strings.TrimSpace(arg)))
		}
		expr, err := descParser.Parse(spec)
		if err != nil {
			return nil, fieldError("", "", err)
		}
		s.Expression = expr
		s.Words = "every " + strings.TrimSpace(arg) + ", counted from go-cron's start (not aligned to the clock)"
		return nil, nil
	}
	d, ok := descriptors[strings.ToLower(spec)]
	if !ok {
		return nil, fieldError("", "", fmt.Errorf("unrecognized descriptor %s (want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every DURATION)", spec))
	}
	return strings.Fields(d), nil
}

// fields reads five or six fields as six, seconds first, naming the field
// at fault (cron/v3 says what is wrong, not where). For five, s.FiveFields
// says how to write the reading not taken.
func (s *Schedule) fields(spec, prefix string, reading Fields) ([]string, error) {
	fields := strings.Fields(spec)
	names := sixFields
	var six []string
	switch {
	case len(fields) == 6:
		s.Form = "6 fields, seconds first"
		six = fields
	case len(fields) == 5 && reading == Seconds:
		s.Form = "5 fields, seconds first (the original go-cron's reading; day-of-week *)"
		names = sixFields[:5]
		six = append(append([]string{}, fields...), "*")
	case len(fields) == 5:
		s.Form = "5 fields, minute first (standard cron)"
		names = sixFields[1:]
		six = append([]string{"0"}, fields...)
	default:
		return nil, fieldError("", "", fmt.Errorf("want 5 fields (minute first) or 6 (seconds first), found %d", len(fields)))
	}
	for i, f := range fields {
		if err := unsupported(f); err != nil {
			return nil, fieldError(names[i], f, err)
		}
	}
	if len(fields) == 5 {
		alt := &Alternative{Fields: Seconds}
		if reading == Seconds {
			alt.Fields = Standard
			alt.Six = prefix + "0 " + spec
		} else {
			alt.Six = prefix + spec + " *"
		}
		s.FiveFields = alt
	}
	return six, nil
}

// compile checks each of the six fields (7 read as Sunday) and makes the
// schedule's wall-clock expression, its words and the other reading's.
func (s *Schedule) compile(six []string) error {
	norm := make([]string, 6)
	for i, f := range six {
		norm[i] = f
		if sixFields[i] == "day-of-week" {
			folded, err := foldSunday(f)
			if err != nil {
				return fieldError(sixFields[i], f, err)
			}
			norm[i] = folded
		}
		if _, err := cron.NewParser(fieldOpts[i]).Parse(norm[i]); err != nil {
			return fieldError(sixFields[i], f, err)
		}
	}
	spec6, err := sixParser.Parse(strings.Join(norm, " "))
	if err != nil {
		return fieldError("", "", err)
	}
	ss := spec6.(*cron.SpecSchedule)
	ss.Location = time.UTC
	// cronie's fixed-time jobs: neither the minute nor the hour field starts
	// with '*' (see wallClock).
	fixed := !strings.HasPrefix(six[1], "*") && !strings.HasPrefix(six[2], "*") &&
		!strings.HasPrefix(six[1], "?") && !strings.HasPrefix(six[2], "?")
	s.Expression = &wallClock{spec: ss, loc: s.Location, fixed: fixed}
	s.Words = words(six)
	if alt := s.FiveFields; alt != nil {
		if other, err := ParseWith(alt.Six, Options{Location: s.Location}); err == nil {
			alt.Words = other.Words
		}
	}
	// cron/v3 gives up after five years and returns the zero time
	// ("0 0 30 2 *", February 30th): refuse it now, not never.
	if s.Next(time.Now()).IsZero() {
		return fieldError("", "", errors.New("never fires"))
	}
	return nil
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
