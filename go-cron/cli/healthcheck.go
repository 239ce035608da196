package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"cronbox/go-cron/health"
)

// healthcheck is --healthcheck, the image's HEALTHCHECK: it probes the
// running go-cron's /healthz at the address that go-cron recorded in
// --status-file (GOCRON_STATUS_FILE), else at the configured status
// address, and passes when the status port is off.
func healthcheck(ctx context.Context, o *options, stdout io.Writer) (int, error) {
	addr, from := health.Target(o.statusFile, o.addr)
	if addr == health.Off || addr == "" {
		fmt.Fprintf(stdout, "go-cron: healthy: the status port is off (%s)\n", from)
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	if err := health.Probe(ctx, &http.Client{}, addr); err != nil {
		return 1, fmt.Errorf("healthcheck: %w (address from %s)", err, from)
	}
	fmt.Fprintf(stdout, "go-cron: healthy: %s/healthz answers 200 (address from %s)\n", addr, from)
	return 0, nil
}

// recordStatusAddr leaves the status address go-cron bound (or "off") in
// --status-file for --healthcheck, and returns what removes it at exit. A
// file that cannot be written costs only the healthcheck's accuracy, so it
// is a warning, not a reason to stop backing up.
func recordStatusAddr(o *options, addr string, log *slog.Logger) func() {
	if o.statusFile == "" {
		return func() {}
	}
	if err := health.Record(o.statusFile, addr); err != nil {
		log.Warn("cannot record the status address: a HEALTHCHECK probes GOCRON_STATUS_ADDR (or :18080) instead",
			"GOCRON_STATUS_FILE", o.statusFile, "err", err)
		return func() {}
	}
	return func() { os.Remove(o.statusFile) }
}
