package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"cronbox/go-cron/schedule"
)

// checkOnly is --check: the flags, environment and schedule have been read
// exactly as for a real start; it also checks the lock options, prints how
// the schedule was read and its next fire times, and starts nothing (no
// status port, no etcd connection, no job).
func checkOnly(o *options, environ []string, schedText, schedFrom string, sched *schedule.Schedule, command []string, stdout io.Writer, log *slog.Logger) (int, error) {
	if o.lock.enabled() {
		if _, err := o.lock.config(o, environ, log); err != nil {
			return 2, err
		}
	}
	cmd := strings.Join(command, " ")
	if sched == nil {
		fmt.Fprintf(stdout, "go-cron: ok: once: %s\n", cmd)
		return 0, nil
	}
	now := time.Now()
	fires := schedule.NextN(sched, now, 3)
	times := make([]string, len(fires))
	for i, t := range fires {
		times[i] = t.Format(time.RFC3339)
	}
	from := schedFrom
	if from == "" {
		from = "argument"
	}
	fmt.Fprintf(stdout, "go-cron: ok: schedule %q (from %s) read as %s, zone %s; next %s; command: %s\n",
		schedText, from, sched.Form, zoneName(sched.Location, now), strings.Join(times, ", "), cmd)
	return 0, nil
}
