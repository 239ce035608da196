package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Fields says how a five-field schedule is read. Six fields are always
// seconds first.
type Fields int

const (
	// Standard reads five fields as every cron does: minute, hour,
	// day-of-month, month, day-of-week, at second 0.
	Standard Fields = iota
	// Seconds reads five fields as the original go-cron did (robfig/cron
	// before November 2014): second, minute, hour, day-of-month, month, with
	// day-of-week *.
	Seconds
)

// ParseFields reads the --fields / GOCRON_FIELDS value.
func ParseFields(s string) (Fields, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "standard":
		return Standard, nil
	case "seconds":
		return Seconds, nil
	}
	return Standard, errors.New("want standard (five fields are minute first, as every cron reads them) or seconds (the original go-cron's reading: second first, day-of-week *)")
}

func (f Fields) String() string {
	if f == Seconds {
		return "seconds"
	}
	return "standard"
}

var sixFields = []string{"seconds", "minutes", "hours", "day-of-month", "month", "day-of-week"}

// monthNames and dowNames are the names cron accepts in those fields; they
// hold the letters L and W, which are not Quartz syntax there.
var (
	monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	dowNames   = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
)

// unsupported refuses Quartz's L (last), W (nearest weekday) and # (nth
// weekday of the month), which cron/v3 reports only as a failed number
// conversion.
func unsupported(field string) error {
	if strings.Contains(field, "=") {
		// cron/v3 reads a field starting with TZ= as a zone prefix and
		// panics when no space follows it (found by FuzzSchedule).
		return errors.New("a time zone (CRON_TZ=Zone or TZ=Zone) goes before the fields, not in one")
	}
	if strings.Contains(field, "#") {
		return errors.New("# (nth weekday of the month) is Quartz syntax that go-cron does not support")
	}
	rest := strings.ToLower(field)
	for _, n := range append(append([]string{}, monthNames...), dowNames...) {
		rest = strings.ReplaceAll(rest, n, "")
	}
	switch {
	case strings.Contains(rest, "l") && strings.Contains(rest, "w"):
		return errors.New("LW (last weekday of the month) is Quartz syntax that go-cron does not support")
	case strings.Contains(rest, "l"):
		return errors.New("L (last day) is Quartz syntax that go-cron does not support")
	case strings.Contains(rest, "w"):
		return errors.New("W (nearest weekday) is Quartz syntax that go-cron does not support")
	}
	return nil
}

// foldSunday rewrites a day-of-week field so that 7 means Sunday, as in
// every other cron (cron/v3 takes 0-6 only): "7" becomes "0", "5-7" becomes
// "5-6,0", a stepped range that reaches 7 is listed day by day.
func foldSunday(field string) (string, error) {
	terms := strings.Split(field, ",")
	for i, term := range terms {
		rng, step, stepped := strings.Cut(term, "/")
		lo, hi, ranged := strings.Cut(rng, "-")
		num := func(s string) (int, bool) {
			n, err := strconv.Atoi(s)
			return n, err == nil
		}
		l, lok := num(lo)
		h, hok := num(hi)
		for _, v := range []struct {
			n  int
			ok bool
		}{{l, lok}, {h, hok && ranged}} {
			if v.ok && v.n > 7 {
				return "", fmt.Errorf("%d above maximum (7; 0 and 7 are Sunday)", v.n)
			}
		}
		switch {
		case !lok:
			continue // *, names, or malformed: cron/v3 judges it
		case !ranged && !stepped:
			if l == 7 {
				terms[i] = "0"
			}
			continue
		case ranged && !hok:
			continue
		}
		if !ranged {
			h = 7 // "N/s" means N through the maximum, which is now 7
		}
		s := 1
		if stepped {
			n, ok := num(step)
			if !ok || n <= 0 {
				continue // cron/v3 names the bad step
			}
			s = n
		}
		if h < 7 || l > h {
			continue
		}
		var days []string
		seen := map[int]bool{}
		for d := l; d <= h; d += s {
			v := d % 7
			if !seen[v] {
				seen[v] = true
				days = append(days, strconv.Itoa(v))
			}
		}
		terms[i] = strings.Join(days, ",")
	}
	return strings.Join(terms, ","), nil
}

// descriptors maps cron's named schedules to six fields, as cronie defines
// them (@hourly is a wildcard-hour job there, the others fixed-time).
var descriptors = map[string]string{
	"@yearly":   "0 0 0 1 1 *",
	"@annually": "0 0 0 1 1 *",
	"@monthly":  "0 0 0 1 * *",
	"@weekly":   "0 0 0 * * 0",
	"@daily":    "0 0 0 * * *",
	"@midnight": "0 0 0 * * *",
	"@hourly":   "0 0 * * * *",
}
