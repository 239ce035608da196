package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"cronbox/clikit"
	"cronbox/es-snapshot/snapshot"
)

// statusOptions are status's flags.
type statusOptions struct{ repo string }

func (o *statusOptions) define(fs *clikit.FlagSet) {
	fs.String(&o.repo, "repository", "", "only this repository (default: all)", "ES_REPOSITORY")
}

func (o *statusOptions) check(*clikit.FlagSet, []string) error { return nil }

// run is `es-snapshot status`: the snapshots running now.
func (o *statusOptions) run(ctx context.Context, r *snapshot.Runner, env Env) error {
	st, err := r.Client.Status(ctx, o.repo)
	if err != nil {
		return fmt.Errorf("snapshot status: %w", err)
	}
	if len(st) == 0 {
		fmt.Fprintln(env.Stdout, "no snapshot is running")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREPOSITORY\tSTATE\tSHARDS DONE\tBYTES DONE")
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s/%s\n", s.Name, s.Repository, s.State,
			s.ShardStats.Done, s.ShardStats.Total, snapshot.HumanBytes(s.DoneBytes()), snapshot.HumanBytes(s.TotalBytes()))
	}
	return tw.Flush()
}
