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

// value is a flag value read by parse and shown by format.
type value[T any] struct {
	p      *T
	parse  func(string) (T, error)
	format func(T) string
}

func (v value[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p = x
	return nil
}

func (v value[T]) String() string {
	var x T
	if v.p != nil {
		x = *v.p
	}
	return v.format(x)
}

func (v value[T]) negative() bool {
	switch x := any(*v.p).(type) {
	case int:
		return x < 0
	case int64:
		return x < 0
	case time.Duration:
		return x < 0
	}
	return false
}

func intValue(p *int) value[int] {
	return value[int]{p, func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("want a whole number")
		}
		return n, nil
	}, strconv.Itoa}
}

func durationValue(p *time.Duration) value[time.Duration] {
	return value[time.Duration]{p, func(s string) (time.Duration, error) {
		d, err := ParseDuration(s)
		return d, errorsWithoutQuote(err, s)
	}, time.Duration.String}
}

func sizeValue(p *int64) value[int64] {
	return value[int64]{p, func(s string) (int64, error) {
		n, err := ParseSize(s)
		return n, errorsWithoutQuote(err, s)
	}, func(n int64) string { return strconv.FormatInt(n, 10) }}
}

// errorsWithoutQuote drops the quoted input from a parse error: the flag
// set names the flag and the value itself.
func errorsWithoutQuote(err error, s string) error {
	if err == nil {
		return nil
	}
	msg, ok := strings.CutPrefix(err.Error(), strconv.Quote(strings.TrimSpace(s))+": ")
	if !ok {
		return err
	}
	return fmt.Errorf("%s", msg)
}
