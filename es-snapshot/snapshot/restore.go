package snapshot

import (
	"context"
	"fmt"

	"cronbox/es-snapshot/esclient"
)

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
