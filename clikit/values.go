package clikit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a Go duration ("90s", "1h30m") that may start with
// days ("7d", "1.5d", "1d12h"): backup retention is counted in days.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q: not a duration (such as 90s, 15m, 12h or 7d)", s)
	days, rest, hasDays := strings.Cut(s, "d")
	if !hasDays {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
		return d, nil
	}
	n, err := strconv.ParseFloat(days, 64)
	if err != nil || math.IsInf(n, 0) || math.IsNaN(n) || math.Abs(n) > 100*365 {
		return 0, bad
	}
	d := time.Duration(n * float64(24*time.Hour))
	if rest != "" {
		if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, bad
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, bad
		}
		if n < 0 || strings.HasPrefix(days, "-") {
			r = -r
		}
		d += r
	}
	return d, nil
}

// ParseSize reads a byte count: 20971520, 512K, 8M, 8MB, 8MiB, 1G, 1T
// (powers of 1024). Negative sizes are refused.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	shift := 0
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift > 0 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q: not a size (such as 8M or 20971520)", s)
	}
	return n << shift, nil
}

// ParseEndpoints reads an endpoint list as users write it: comma or space
// separated, each member or the whole list optionally quoted as the
// original image's ETCD_MACHINES was (`"http://a:2379","http://b:2379"`); a
// trailing slash is dropped.
func ParseEndpoints(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(strings.Trim(strings.TrimSpace(s), `"'`), func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n'
	}) {
		if f = strings.Trim(f, `"'`); f != "" {
			out = append(out, strings.TrimSuffix(f, "/"))
		}
	}
	return out
}

// The flag values: Set parses and says what is wrong in words; String is
// the value as a flag would take it back.

type stringValue struct{ p *string }

func (v stringValue) Set(s string) error { *v.p = s; return nil }
func (v stringValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

type boolValue struct{ p *bool }

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	*v.p = b
	return nil
}
func (v boolValue) String() string   { return strconv.FormatBool(v.p != nil && *v.p) }
func (v boolValue) IsBoolFlag() bool { return true }

type intValue struct{ p *int }

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("want a whole number")
	}
	*v.p = n
	return nil
}
func (v intValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

type durationValue struct{ p *time.Duration }

func (v durationValue) Set(s string) error {
	d, err := ParseDuration(s)
	if err != nil {
		return errorsWithoutQuote(err, s)
	}
	*v.p = d
	return nil
}
func (v durationValue) String() string {
	if v.p == nil {
		return "0s"
	}
	return v.p.String()
}

type sizeValue struct{ p *int64 }

func (v sizeValue) Set(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return errorsWithoutQuote(err, s)
	}
	*v.p = n
	return nil
}
func (v sizeValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(*v.p, 10)
}

// errorsWithoutQuote drops the quoted input from a parse error: the flag
// set names the flag and the value itself.
func errorsWithoutQuote(err error, s string) error {
	msg, ok := strings.CutPrefix(err.Error(), strconv.Quote(strings.TrimSpace(s))+": ")
	if !ok {
		return err
	}
	return fmt.Errorf("%s", msg)
}
