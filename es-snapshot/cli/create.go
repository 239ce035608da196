package cli

import (
	"context"
	"fmt"
	"time"

	"cronbox/clikit"
	"cronbox/es-snapshot/esclient"
	"cronbox/es-snapshot/snapshot"
)

// createOptions are create's flags.
type createOptions struct {
	repo                               repository
	naming                             naming
	indices                            string
	global, partial, ignoreUnavailable bool
}

func (o *createOptions) define(fs *clikit.FlagSet) {
	o.repo.define(fs)
	o.naming.define(fs)
	fs.String(&o.indices, "indices", "", "indices to snapshot, comma-separated, wildcards allowed (default: all)", "ES_INDICES")
	fs.Bool(&o.global, "include-global-state", true, "include the cluster state (templates, persistent settings)", "ES_INCLUDE_GLOBAL_STATE")
	fs.Bool(&o.partial, "partial", false, "start even if some primaries are unavailable (the result is PARTIAL and still exits 1)", "ES_PARTIAL")
	fs.Bool(&o.ignoreUnavailable, "ignore-unavailable", false, "skip named indices that do not exist", "ES_IGNORE_UNAVAILABLE")
}

func (o *createOptions) check(fs *clikit.FlagSet, args []string) error {
	if err := o.repo.check(fs); err != nil {
		return err
	}
	if len(args) > 0 {
		return usagef("create: unexpected argument %q", args[0])
	}
	return o.naming.check()
}

// run is `es-snapshot create`: one snapshot, followed to its end;
// its name on stdout.
func (o *createOptions) run(ctx context.Context, r *snapshot.Runner, env Env) error {
	name := o.naming.namer.Name(time.Now())
	s, err := r.Create(ctx, o.repo.name, name, esclient.CreateRequest{
		Indices: o.indices, IgnoreUnavailable: o.ignoreUnavailable, IncludeGlobalState: o.global, Partial: o.partial,
		Metadata: map[string]any{"taken_by": "cronbox es-snapshot " + Version},
	})
	if err != nil {
		return err
	}
	reportCreate(env, r.Log, o.repo.name, s, r.Version)
	fmt.Fprintln(env.Stdout, s.Name)
	return nil
}
