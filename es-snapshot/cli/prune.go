package cli

import (
	"context"
	"fmt"
	"strings"

	"cronbox/clikit"
	"cronbox/es-snapshot/snapshot"
)

// pruneOptions are prune's flags: the policy.
type pruneOptions struct {
	repo   repository
	naming naming
	p      snapshot.Policy
	dryRun bool
}

func (o *pruneOptions) define(fs *clikit.FlagSet) {
	o.repo.define(fs)
	o.naming.define(fs)
	fs.Int(&o.p.KeepLast, "keep-last", 0, "keep the newest N good snapshots, delete older ones (0: no count limit)", "ES_KEEP_LAST")
	for _, t := range []struct {
		name, period string
		n            *int
	}{{"hourly", "hour", &o.p.Tiers.Hourly}, {"daily", "day", &o.p.Tiers.Daily}, {"weekly", "ISO week", &o.p.Tiers.Weekly},
		{"monthly", "month", &o.p.Tiers.Monthly}, {"yearly", "year", &o.p.Tiers.Yearly}} {
		fs.Int(t.n, "keep-"+t.name, 0, fmt.Sprintf("keep the newest good snapshot of each of the last N %ss that have one (UTC; -1: every %s)", t.period, t.period), "ES_KEEP_"+strings.ToUpper(t.name))
	}
	duration(fs, &o.p.MaxAge, "max-age", 0, true, "delete snapshots older than this, e.g. 30d or 12h (0: no age limit)", "ES_MAX_AGE")
	fs.Int(&o.p.MinKeep, "min-keep", 1, "never delete the newest N good snapshots, whatever the rules say (at least 1)", "ES_MIN_KEEP")
	fs.Bool(&o.dryRun, "dry-run", false, "print the plan (what is kept and why), delete nothing", "ES_DRY_RUN")
}

func (o *pruneOptions) check(fs *clikit.FlagSet, _ []string) error {
	if err := o.repo.check(fs); err != nil {
		return err
	}
	if err := o.p.Check(); err != nil {
		return usagef("prune: %v", err)
	}
	return o.naming.check()
}

// run is `es-snapshot prune`: the snapshots the policy lets go, deleted
// (their names on stdout).
func (o *pruneOptions) run(ctx context.Context, r *snapshot.Runner, env Env) error {
	res, err := r.Prune(ctx, o.repo.name, o.naming.namer, o.p, o.dryRun)
	for _, d := range res.Decisions {
		if d.Delete {
			fmt.Fprintln(env.Stdout, d.Snapshot.Name)
		}
	}
	return err
}
