package snapshot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cronbox/clikit/backoff"
	"cronbox/es-snapshot/esclient"
)

// Create starts snapshot name in repo and follows it to its end. It
// returns the finished snapshot when it is good (SUCCESS, no failed
// shard); anything else is an error that names the state and the failed
// shards. Concurrency refusals are retried until ctx's deadline.
func (r *Runner) Create(ctx context.Context, repo, name string, req esclient.CreateRequest) (*esclient.Snapshot, error) {
	what := fmt.Sprintf("create snapshot %s in repository %s", name, repo)
	if req.Metadata != nil && !r.Version.SnapshotMetadata() {
		req.Metadata = nil
	}
	started := r.now()
	r.progress("snapshot %s: starting in repository %s", name, repo)
	if sent, err := r.startSnapshot(ctx, what, repo, name, req); err != nil {
		if sent && ctx.Err() != nil {
			return r.startInterrupted(ctx, what, repo, name, started, err)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	wait := r.backoff()
	every := r.ProgressEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	lastReport := r.now()
	missing := 0
	for {
		s, err := r.Client.GetSnapshot(ctx, repo, name)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, fmt.Errorf("%w; the last poll: %w", r.stillRunning(ctx, what, started), err)
		case err != nil:
			// A poll that fails (a restarting node, a proxy hiccup) is not
			// the snapshot failing: keep asking until the deadline.
			r.Log.Warn("polling the snapshot failed; asking again", "snapshot", name, "err", err)
		case s == nil:
			// Accepted, then gone: the server dropped it without writing it
			// to the repository. Give the cluster state a moment to settle.
			if missing++; missing >= 3 {
				return nil, fmt.Errorf("%s: the server accepted it, then dropped it without recording it in the repository: %s",
					what, r.diagnoseRepo(ctx, repo))
			}
		case s.State == esclient.StateInProgress:
			missing = 0
			if r.now().Sub(lastReport) >= every {
				lastReport = r.now()
				r.progress("snapshot %s: IN_PROGRESS for %s%s", name, r.now().Sub(started).Round(time.Second), r.shardProgress(ctx, repo, name))
			}
		default:
			return r.ended(what, s)
		}
		if err := backoff.Sleep(ctx, wait.Next()); err != nil {
			return nil, r.stillRunning(ctx, what, started)
		}
	}
}

// stillRunning is the error of a wait that ctx ended (a signal or the
// deadline) while the snapshot was still going on in the server.
func (r *Runner) stillRunning(ctx context.Context, what string, started time.Time) error {
	return fmt.Errorf("%s: still IN_PROGRESS %s after %s; it goes on in the server (see es-snapshot status)",
		what, when(ctx), r.now().Sub(started).Round(time.Second))
}

// ended is the verdict on a snapshot that left IN_PROGRESS: good (SUCCESS,
// no failed shard) or an error naming its state and failed shards.
func (r *Runner) ended(what string, s *esclient.Snapshot) (*esclient.Snapshot, error) {
	if !s.Good() {
		return s, fmt.Errorf("%s: %s (%s)", what, s.State, s.FailureSummary())
	}
	r.progress("snapshot %s: SUCCESS, %d shards in %s", s.Name, s.Shards.Total, s.Duration(r.now()).Round(time.Millisecond))
	return s, nil
}

// startSnapshot sends the create request, and says whether it sent one
// (a snapshot of that name did not exist before). The PUT is not
// idempotent, so a refused or broken connection is retried only once the
// snapshot is known not to exist: a GET by name first. If it exists and did
// not before our first PUT, that PUT started it; a retried PUT answered
// "already exists" is the same. A snapshot of that name that existed before
// is not ours: the server's refusal stands.
func (r *Runner) startSnapshot(ctx context.Context, what, repo, name string, req esclient.CreateRequest) (sent bool, err error) {
	before, err := r.Client.GetSnapshot(ctx, repo, name)
	if err != nil {
		return false, fmt.Errorf("look for an existing snapshot %s: %w", name, err)
	}
	existed := before != nil
	sent = !existed // from here on a PUT goes out that may start ours
	wait := r.backoff()
	retried := false
	for tries := 1; ; tries++ {
		err := r.retryBusy(ctx, what, func() error { return r.Client.CreateSnapshot(ctx, repo, name, req) })
		switch {
		case err == nil:
			return sent, nil
		case retried && !existed && esclient.IsType(err, "invalid_snapshot_name_exception") &&
			strings.Contains(strings.ToLower(err.Error()), "already exists"):
			r.Log.Info("the create request was started by an earlier try", "snapshot", name)
			return sent, nil
		case !esclient.IsConnError(err):
			return sent, err
		}
		// The connection broke: did the server start it anyway? (The GET
		// itself retries a refused connection for a while.)
		if serr := backoff.Sleep(ctx, wait.Next()); serr != nil {
			return sent, fmt.Errorf("%w (tried %d times until the deadline)", err, tries)
		}
		s, gerr := r.Client.GetSnapshot(ctx, repo, name)
		switch {
		case gerr != nil:
			return sent, fmt.Errorf("%w; then, looking for it: %w", err, gerr)
		case s != nil && !existed:
			r.Log.Info("the create request broke, but the server started the snapshot", "snapshot", name, "err", err)
			return sent, nil
		case s != nil:
			return sent, err
		}
		r.Log.Warn("the create request broke before an answer; the snapshot does not exist, sending it again", "snapshot", name, "err", err)
		retried = true
	}
}

// interruptedLookup bounds the one question asked after a signal or the
// deadline cut a create request off.
const interruptedLookup = 5 * time.Second

// startInterrupted says what became of a create request that a signal or
// the deadline cut off before its answer: the server may have started the
// snapshot all the same. One GET, on a context of its own; the result is as
// the wait would have reported it (a snapshot going on is exit 1, one that
// already succeeded is a success).
func (r *Runner) startInterrupted(ctx context.Context, what, repo, name string, started time.Time, err error) (*esclient.Snapshot, error) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), interruptedLookup)
	defer cancel()
	s, gerr := r.Client.GetSnapshot(lctx, repo, name)
	switch {
	case gerr != nil:
		return nil, fmt.Errorf("%s: the request was cut off %s; the server may have started it (see es-snapshot status): %w; then, looking for it: %w",
			what, when(ctx), err, gerr)
	case s == nil:
		return nil, fmt.Errorf("%s: the request was cut off %s; the server had not started it when asked afterwards (see es-snapshot status): %w", what, when(ctx), err)
	case s.State == esclient.StateInProgress:
		return nil, r.stillRunning(ctx, what, started)
	default:
		return r.ended(what, s)
	}
}

// diagnoseRepo explains a vanished snapshot: most often the repository is
// not writable, which verification shows with the server's reason.
func (r *Runner) diagnoseRepo(ctx context.Context, repo string) string {
	if _, err := r.Client.VerifyRepository(ctx, repo); err != nil {
		return "the repository fails verification: " + err.Error()
	}
	return "the repository verifies, so see the server's log for the reason"
}

func (r *Runner) shardProgress(ctx context.Context, repo, name string) string {
	st, err := r.Client.Status(ctx, repo)
	if err != nil {
		return ""
	}
	for _, s := range st {
		if s.Name == name {
			out := fmt.Sprintf(" (shards %d/%d done", s.ShardStats.Done, s.ShardStats.Total)
			if t := s.TotalBytes(); t > 0 {
				out += fmt.Sprintf(", %s of %s", HumanBytes(s.DoneBytes()), HumanBytes(t))
			}
			return out + ")"
		}
	}
	return ""
}
