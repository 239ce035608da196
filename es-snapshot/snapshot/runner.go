package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"cronbox/es-snapshot/esclient"
)

// Runner does the work against one server.
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

// backoff returns successive waits from PollMin doubling to PollMax.
func (r *Runner) backoff() func() time.Duration {
	lo, hi := r.PollMin, r.PollMax
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi < lo {
		hi = 2 * time.Second
		if hi < lo {
			hi = lo
		}
	}
	next := lo
	return func() time.Duration {
		d := next
		if next *= 2; next > hi {
			next = hi
		}
		return d
	}
}

// when says why ctx ended: the command's deadline or a signal.
func when(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.Canceled) {
		return "when interrupted"
	}
	return "at the deadline"
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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
		d := wait()
		if tries == 1 || tries%10 == 0 {
			r.progress("%s: the server is busy with another snapshot operation, retrying until the deadline (%v)", what, err)
		}
		if serr := sleep(ctx, d); serr != nil {
			return fmt.Errorf("gave up %s after %d busy answers; the last was: %w", when(ctx), tries, err)
		}
	}
}

// EnsureRepo registers repository name as want unless it already is, then
// verifies it. It reports whether it (re-)registered.
func (r *Runner) EnsureRepo(ctx context.Context, name string, want esclient.Repository) (bool, error) {
	have, err := r.Client.GetRepository(ctx, name)
	if err != nil {
		return false, fmt.Errorf("read repository %s: %w", name, err)
	}
	changed := false
	switch {
	case have == nil:
		r.progress("repository %s: not registered, registering (type %s)", name, want.Type)
		changed = true
	case !SameRepository(*have, want):
		r.progress("repository %s: registered with other settings (type %s %v), re-registering (type %s %v)",
			name, have.Type, stringSettings(have.Settings), want.Type, stringSettings(want.Settings))
		changed = true
	default:
		r.progress("repository %s: registered as wanted (type %s)", name, want.Type)
	}
	if changed {
		err := r.retryBusy(ctx, "register repository "+name, func() error {
			return r.Client.PutRepository(ctx, name, want)
		})
		if err != nil {
			return changed, fmt.Errorf("register repository %s: %w", name, err)
		}
	}
	nodes, err := r.Client.VerifyRepository(ctx, name)
	if err != nil {
		return changed, fmt.Errorf("verify repository %s: %w", name, err)
	}
	sort.Strings(nodes)
	r.progress("repository %s: verified by %d node(s): %s", name, len(nodes), strings.Join(nodes, ", "))
	return changed, nil
}

// SameRepository compares registrations as the server stores them: the
// settings' values are strings there ("true", "5mb").
func SameRepository(a, b esclient.Repository) bool {
	if a.Type != b.Type {
		return false
	}
	as, bs := stringSettings(a.Settings), stringSettings(b.Settings)
	if len(as) != len(bs) {
		return false
	}
	for k, v := range as {
		if w, ok := bs[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func stringSettings(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any: // {"a":{"b":1}} is stored as "a.b": "1"
			for k, y := range x {
				walk(prefix+k+".", y)
			}
		case string:
			out[strings.TrimSuffix(prefix, ".")] = x
		case float64:
			out[strings.TrimSuffix(prefix, ".")] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			out[strings.TrimSuffix(prefix, ".")] = fmt.Sprint(x)
		}
	}
	for k, v := range m {
		walk(k+".", v)
	}
	return out
}

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
	if err := r.startSnapshot(ctx, what, repo, name, req); err != nil {
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
			return nil, fmt.Errorf("%s: still IN_PROGRESS %s after %s; it goes on in the server (see es-snapshot status); the last poll: %w",
				what, when(ctx), r.now().Sub(started).Round(time.Second), err)
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
		case s.Good():
			r.progress("snapshot %s: SUCCESS, %d shards in %s", name, s.Shards.Total, s.Duration(r.now()).Round(time.Millisecond))
			return s, nil
		default:
			return s, fmt.Errorf("%s: %s (%s)", what, s.State, s.FailureSummary())
		}
		if err := sleep(ctx, wait()); err != nil {
			return nil, fmt.Errorf("%s: still IN_PROGRESS %s after %s; it goes on in the server (see es-snapshot status)",
				what, when(ctx), r.now().Sub(started).Round(time.Second))
		}
	}
}

// startSnapshot sends the create request. The PUT is not idempotent, so a
// refused or broken connection is retried only once the snapshot is known
// not to exist: a GET by name first. If it exists and did not before our
// first PUT, that PUT started it; a retried PUT answered "already exists" is
// the same. A snapshot of that name that existed before is not ours: the
// server's refusal stands.
func (r *Runner) startSnapshot(ctx context.Context, what, repo, name string, req esclient.CreateRequest) error {
	before, err := r.Client.GetSnapshot(ctx, repo, name)
	if err != nil {
		return fmt.Errorf("look for an existing snapshot %s: %w", name, err)
	}
	existed := before != nil
	wait := r.backoff()
	retried := false
	for tries := 1; ; tries++ {
		err := r.retryBusy(ctx, what, func() error { return r.Client.CreateSnapshot(ctx, repo, name, req) })
		switch {
		case err == nil:
			return nil
		case retried && !existed && esclient.IsType(err, "invalid_snapshot_name_exception") &&
			strings.Contains(strings.ToLower(err.Error()), "already exists"):
			r.Log.Info("the create request was started by an earlier try", "snapshot", name)
			return nil
		case !esclient.IsConnError(err):
			return err
		}
		// The connection broke: did the server start it anyway? (The GET
		// itself retries a refused connection for a while.)
		if serr := sleep(ctx, wait()); serr != nil {
			return fmt.Errorf("%w (tried %d times until the deadline)", err, tries)
		}
		s, gerr := r.Client.GetSnapshot(ctx, repo, name)
		switch {
		case gerr != nil:
			return fmt.Errorf("%w; then, looking for it: %w", err, gerr)
		case s != nil && !existed:
			r.Log.Info("the create request broke, but the server started the snapshot", "snapshot", name, "err", err)
			return nil
		case s != nil:
			return err
		}
		r.Log.Warn("the create request broke before an answer; the snapshot does not exist, sending it again", "snapshot", name, "err", err)
		retried = true
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

// PruneResult lists what prune decided and did.
type PruneResult struct {
	Decisions []Decision
	Deleted   []string
}

// Prune applies policy to the snapshots namer owns in repo. With dryRun it
// only decides.
func (r *Runner) Prune(ctx context.Context, repo string, namer *Namer, p Policy, dryRun bool) (PruneResult, error) {
	var res PruneResult
	if err := p.Check(); err != nil {
		return res, err
	}
	snaps, err := r.Client.ListSnapshots(ctx, repo, false)
	if err != nil {
		return res, fmt.Errorf("list snapshots in repository %s: %w", repo, err)
	}
	res.Decisions = Plan(snaps, namer.Owns, p, r.now())
	var del []string
	for _, d := range res.Decisions {
		verb := "keep"
		if d.Delete {
			verb = "delete"
			del = append(del, d.Snapshot.Name)
		}
		if dryRun {
			verb = "would " + verb
		}
		r.progress("prune %s: %s %s (%s)", repo, verb, d.Snapshot.Name, d.Why)
	}
	if dryRun || len(del) == 0 {
		r.progress("prune %s: %d of %d snapshots to delete%s", repo, len(del), len(res.Decisions), map[bool]string{true: " (dry run: nothing deleted)"}[dryRun])
		return res, nil
	}
	// Several names per DELETE where the server allows it; bounded so the
	// URL stays short.
	batch := 1
	if r.Version.MultiDelete() {
		batch = 50
	}
	for i := 0; i < len(del); i += batch {
		chunk := del[i:min(i+batch, len(del))]
		what := fmt.Sprintf("delete snapshot(s) %s from repository %s", strings.Join(chunk, ","), repo)
		err := r.retryBusy(ctx, what, func() error { return r.Client.DeleteSnapshots(ctx, repo, chunk) })
		if esclient.IsType(err, "snapshot_missing_exception") {
			// Someone else deleted one meanwhile: fine, the rest still goes.
			err = r.deleteOneByOne(ctx, repo, chunk)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", what, err)
		}
		res.Deleted = append(res.Deleted, chunk...)
	}
	r.progress("prune %s: deleted %d, kept %d", repo, len(res.Deleted), len(res.Decisions)-len(res.Deleted))
	return res, nil
}

func (r *Runner) deleteOneByOne(ctx context.Context, repo string, names []string) error {
	for _, n := range names {
		err := r.retryBusy(ctx, "delete snapshot "+n, func() error { return r.Client.DeleteSnapshots(ctx, repo, []string{n}) })
		if err != nil && !esclient.IsType(err, "snapshot_missing_exception") {
			return err
		}
	}
	return nil
}

// Latest returns the newest good snapshot namer owns in repo.
func (r *Runner) Latest(ctx context.Context, repo string, namer *Namer) (*esclient.Snapshot, error) {
	snaps, err := r.Client.ListSnapshots(ctx, repo, false)
	if err != nil {
		return nil, fmt.Errorf("list snapshots in repository %s: %w", repo, err)
	}
	var best *esclient.Snapshot
	for i := range snaps {
		s := &snaps[i]
		if !s.Good() || !namer.Owns(s.Name) {
			continue
		}
		if best == nil || s.StartTimeMillis > best.StartTimeMillis ||
			(s.StartTimeMillis == best.StartTimeMillis && s.Name > best.Name) {
			best = s
		}
	}
	if best == nil {
		return nil, fmt.Errorf("repository %s has no SUCCESS snapshot named like %q", repo, namer.pattern)
	}
	return best, nil
}

// Restore restores snapshot name from repo (the latest good one when name
// is empty); with wait it returns when the restore finished and fails if a
// shard did not come back.
func (r *Runner) Restore(ctx context.Context, repo, name string, namer *Namer, req esclient.RestoreRequest, wait bool) (esclient.RestoreResult, error) {
	if name == "" {
		s, err := r.Latest(ctx, repo, namer)
		if err != nil {
			return esclient.RestoreResult{}, err
		}
		name = s.Name
		r.progress("restore: the latest SUCCESS snapshot is %s", name)
	}
	what := fmt.Sprintf("restore snapshot %s from repository %s", name, repo)
	r.progress("restore: %s%s", name, map[bool]string{true: " (waiting for it to finish)"}[wait])
	var res esclient.RestoreResult
	err := r.retryBusy(ctx, what, func() error {
		var err error
		res, err = r.Client.Restore(ctx, repo, name, req, wait)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("%s: %w", what, err)
	}
	if wait {
		if res.Shards.Failed > 0 {
			return res, fmt.Errorf("%s: %d of %d shards failed to restore", what, res.Shards.Failed, res.Shards.Total)
		}
		r.progress("restore: %s done: %d indices, %d shards", name, len(res.Indices), res.Shards.Total)
	} else {
		r.progress("restore: %s accepted; it goes on in the server", name)
	}
	return res, nil
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
