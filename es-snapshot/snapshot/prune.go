package snapshot

import (
	"context"
	"fmt"
	"strings"

	"cronbox/es-snapshot/esclient"
)

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
