package cli

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"cronbox/clikit"
	"cronbox/es-snapshot/snapshot"
)

// listOptions are list's flags.
type listOptions struct{ repo repository }

func (o *listOptions) define(fs *clikit.FlagSet)                  { o.repo.define(fs) }
func (o *listOptions) check(fs *clikit.FlagSet, _ []string) error { return o.repo.check(fs) }

// run is `es-snapshot list`: the repository's snapshots, oldest first.
func (o *listOptions) run(ctx context.Context, r *snapshot.Runner, env Env) error {
	snaps, err := r.Client.ListSnapshots(ctx, o.repo.name, r.Version.IndexDetails())
	if err != nil {
		return fmt.Errorf("list snapshots in repository %s: %w", o.repo.name, err)
	}
	sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].StartTimeMillis < snaps[j].StartTimeMillis })
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tSTART (UTC)\tDURATION\tSIZE\tSHARDS\tFAILED")
	now := time.Now()
	for _, s := range snaps {
		start, size := "-", "-"
		if !s.Start().IsZero() {
			start = s.Start().Format(time.RFC3339)
		}
		if b := s.Size(); b >= 0 {
			size = snapshot.HumanBytes(b)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", s.Name, s.State, start,
			s.Duration(now).Round(time.Millisecond), size, s.Shards.Total, s.Shards.Failed)
	}
	return tw.Flush()
}
