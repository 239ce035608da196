package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"cronbox/clikit"
	"cronbox/go-cron/schedule"
)

// checkOptions are --check's own flags: where the listed fire times start
// and how many there are, so DST changes and leap days can be looked at.
type checkOptions struct {
	from  string
	count int
}

const maxCheckCount = 1000

func (c *checkOptions) flags(fs *clikit.FlagSet) {
	fs.String(&c.from, "from", "", `with --check: list fire times after this time instead of now (RFC 3339 "2026-03-29T00:00:00+01:00", or "2026-03-29T00:00:00" / "2026-03-29" in the schedule's zone)`, "GOCRON_CHECK_FROM")
	fs.Int(&c.count, "count", 3, "with --check: how many fire times to list (1 to 1000)", "GOCRON_CHECK_COUNT")
}

// validate checks the values; --from and --count are refused without
// --check (their variables are only read with it).
func (c *checkOptions) validate(check bool, fs *clikit.FlagSet) error {
	if !check {
		for _, n := range []string{"from", "count"} {
			if fs.Given(n) {
				return usagef("--%s works with --check only", n)
			}
		}
		return nil
	}
	if c.count < 1 || c.count > maxCheckCount {
		return usagef("%s: want 1 to %d fire times", fs.Quote("count"), maxCheckCount)
	}
	if c.from != "" {
		if _, err := parseFrom(c.from, time.UTC); err != nil {
			return usagef("%s: %v", fs.Quote("from"), err)
		}
	}
	return nil
}

// parseFrom reads --from: RFC 3339, or a wall-clock time or date in loc.
func parseFrom(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf(`want an RFC 3339 time ("2026-03-29T00:00:00+01:00"), or "2026-03-29T00:00:00" or "2026-03-29" in the schedule's zone`)
}

// checkOnly is --check: the flags, environment and schedule have been read
// exactly as for a real start; it also checks the lock options, prints how
// the schedule was read, in words, and its next fire times (with a note
// where daylight saving moves one), and starts nothing (no status port, no
// etcd connection, no job).
//
//	go-cron: ok: schedule "*/5 * * * *" (from argument) read as 5 fields, minute first (standard cron): at second 0 of every 5th minute; zone UTC; command: sh /jobs/x
//	go-cron: 5 fields: the original go-cron read 5 fields seconds first (every 5th second): for that, write "*/5 * * * * *" or set GOCRON_FIELDS=seconds
//	go-cron: next 3 fire times after 2026-11-27T13:36:25Z:
//	go-cron:   2026-11-27T13:40:00Z Fri
func checkOnly(o *options, schedText, schedFrom string, sched *schedule.Schedule, command []string, stdout io.Writer, log *slog.Logger) (int, error) {
	if o.lock.enabled() {
		if _, err := o.lock.config(o, log); err != nil {
			return 2, err
		}
	}
	cmd := strings.Join(command, " ")
	if sched == nil {
		fmt.Fprintf(stdout, "go-cron: ok: once: %s\n", cmd)
		return 0, nil
	}
	from := time.Now()
	if o.chk.from != "" {
		t, err := parseFrom(o.chk.from, sched.Location)
		if err != nil { // validated already; the zone is the schedule's now
			return 2, usagef("--from %q: %v", o.chk.from, err)
		}
		from = t
	}
	origin := schedFrom
	if origin == "" {
		origin = "argument"
	}
	fmt.Fprintf(stdout, "go-cron: ok: schedule %q (from %s) read as %s: %s; zone %s; command: %s\n",
		schedText, origin, sched.Form, sched.Words, zoneName(sched.Location, from), cmd)
	if other := sched.Other(); other != "" {
		fmt.Fprintf(stdout, "go-cron: 5 fields: %s\n", other)
	}
	fires := schedule.NextN(sched, from, o.chk.count)
	fmt.Fprintf(stdout, "go-cron: next %s after %s:\n", plural(len(fires), "fire time"), from.In(sched.Location).Format(time.RFC3339))
	for _, t := range fires {
		local := t.In(sched.Location)
		line := "go-cron:   " + local.Format(time.RFC3339) + " " + local.Format("Mon")
		if note := sched.Note(t); note != "" {
			line += " (" + note + ")"
		}
		fmt.Fprintln(stdout, line)
	}
	if len(fires) < o.chk.count {
		fmt.Fprintf(stdout, "go-cron: no more fire times within 5 years of the last\n")
	}
	return 0, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
