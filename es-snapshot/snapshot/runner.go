package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"cronbox/clikit/backoff"
	"cronbox/es-snapshot/esclient"
)

// Runner does the work against one server: repository.go registers and
// verifies repositories, create.go takes snapshots, prune.go deletes the
// ones a policy lets go, restore.go restores them.
type Runner struct {
	Client   *esclient.Client
	Version  esclient.Version
	Log      *slog.Logger
	Progress io.Writer        // one line per step or state change (stderr)
	Now      func() time.Time // default time.Now
	// PollMin and PollMax bound the wait between polls and retries
	// (defaults 250 ms and 2 s; the wait doubles from one to the other).
	// One GET of one snapshot every 2 s costs the server nothing and keeps
	// a job's end within 2 s of the snapshot's.
	PollMin, PollMax time.Duration
	// ProgressEvery is how often a running snapshot reports (default 10 s).
	ProgressEvery time.Duration
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) progress(format string, args ...any) {
	if r.Progress != nil {
		fmt.Fprintf(r.Progress, "es-snapshot: "+format+"\n", args...)
	}
}

// backoff hands out the waits between polls and retries: PollMin doubling
// to PollMax.
func (r *Runner) backoff() *backoff.Backoff {
	lo, hi := r.PollMin, r.PollMax
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi < lo {
		hi = 2 * time.Second
	}
	return backoff.New(lo, hi)
}

// when says why ctx ended: the command's deadline or a signal.
func when(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.Canceled) {
		return "when interrupted"
	}
	return "at the deadline"
}

// retryBusy calls op until it succeeds, fails with something other than a
// concurrency refusal, or ctx ends.
func (r *Runner) retryBusy(ctx context.Context, what string, op func() error) error {
	wait := r.backoff()
	tries := 0
	for {
		err := op()
		if err == nil || !esclient.IsConcurrency(err) {
			return err
		}
		tries++
		d := wait.Next()
		if tries == 1 || tries%10 == 0 {
			r.progress("%s: the server is busy with another snapshot operation, retrying until the deadline (%v)", what, err)
		}
		if serr := backoff.Sleep(ctx, d); serr != nil {
			return fmt.Errorf("gave up %s after %d busy answers; the last was: %w", when(ctx), tries, err)
		}
	}
}

// HumanBytes prints n in binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
