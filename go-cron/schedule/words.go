package schedule

import (
	"fmt"
	"strconv"
	"strings"
)

// words says six normalised fields (seconds first) in English: "at second 0
// of every 5th minute", "at 02:30:00 every day", "at 00:00:00 on Sunday".
func words(f []string) string {
	sec, min, hour, dom, month, dow := f[0], f[1], f[2], f[3], f[4], f[5]
	var b strings.Builder
	if n, ok := plain(sec); ok {
		if m, ok := plain(min); ok {
			if h, ok := plain(hour); ok {
				fmt.Fprintf(&b, "at %02d:%02d:%02d", h, m, n)
			}
		}
	}
	timed := b.Len() > 0
	if !timed {
		chain := []string{field(sec, "second", nil)}
		if !star(min) || !star(hour) || !strings.HasPrefix(chain[0], "every") {
			chain = append(chain, field(min, "minute", nil))
		}
		if !star(hour) || !strings.HasPrefix(min, "*") {
			chain = append(chain, field(hour, "hour", nil))
		}
		s := strings.Join(chain, " of ")
		if !strings.HasPrefix(s, "every") {
			s = "at " + s
		}
		b.WriteString(s)
	}
	switch {
	case star(dom) && star(dow):
		if timed {
			b.WriteString(" every day")
		}
	case star(dow):
		b.WriteString(" on " + field(dom, "day-of-month", nil))
	case star(dom):
		b.WriteString(" on " + field(dow, "day-of-week", dayName))
	default: // cron's rule: either matches
		b.WriteString(" on " + field(dom, "day-of-month", nil) + " or on " + field(dow, "day-of-week", dayName))
	}
	if !star(month) {
		b.WriteString(" in " + field(month, "month", monthName))
	}
	return b.String()
}

func star(f string) bool { return f == "*" || f == "?" }

func plain(f string) (int, bool) {
	n, err := strconv.Atoi(f)
	return n, err == nil
}

func dayName(s string) string {
	names := []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	if n, ok := plain(s); ok && n >= 0 && n < len(names) {
		return names[n]
	}
	for i, n := range dowNames {
		if strings.EqualFold(s, n) {
			return names[i]
		}
	}
	return s
}

func monthName(s string) string {
	names := []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	if n, ok := plain(s); ok && n >= 1 && n <= 12 {
		return names[n-1]
	}
	for i, n := range monthNames {
		if strings.EqualFold(s, n) {
			return names[i]
		}
	}
	return s
}

func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

// field says one field: "every 5th minute", "minute 30", "Monday through
// Friday", "minutes 0 and 30".
func field(f, unit string, name func(string) string) string {
	if star(f) {
		return "every " + unit
	}
	terms := strings.Split(f, ",")
	if name == nil {
		name = func(s string) string { return s }
	}
	allPlain := true
	for _, t := range terms {
		if strings.ContainsAny(t, "-/*?") {
			allPlain = false
		}
	}
	if allPlain {
		named := make([]string, len(terms))
		for i, t := range terms {
			named[i] = name(t)
		}
		list := join(named)
		if named[0] != terms[0] { // names speak for themselves: "Sunday", not "day-of-week Sunday"
			return list
		}
		if len(terms) > 1 && !strings.Contains(unit, "-") {
			unit += "s"
		}
		return unit + " " + list
	}
	said := make([]string, len(terms))
	for i, t := range terms {
		rng, step, stepped := strings.Cut(t, "/")
		lo, hi, ranged := strings.Cut(rng, "-")
		every := "every " + unit
		if stepped {
			if n, ok := plain(step); ok {
				every = "every " + ordinal(n) + " " + unit
			}
		}
		switch {
		case star(rng):
			said[i] = every
		case ranged && !stepped && name(lo) != lo:
			said[i] = name(lo) + " through " + name(hi) // "Monday through Friday"
		case ranged:
			said[i] = every + " from " + name(lo) + " through " + name(hi)
		case stepped:
			said[i] = every + " from " + name(lo)
		default:
			said[i] = unit + " " + name(lo)
		}
	}
	return join(said)
}

func join(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
