package cli

import (
	"context"
	"fmt"
	"strings"

	"cronbox/clikit"
	"cronbox/es-snapshot/esclient"
	"cronbox/es-snapshot/snapshot"
)

// restoreOptions are restore's flags.
type restoreOptions struct {
	repo   repository
	naming naming
	name   string
	req    esclient.RestoreRequest
	wait   bool
}

func (o *restoreOptions) define(fs *clikit.FlagSet) {
	o.repo.define(fs)
	o.naming.define(fs)
	fs.String(&o.name, "snapshot", "", "the snapshot to restore (default: the latest SUCCESS one named like --pattern)", "ES_RESTORE_SNAPSHOT")
	fs.String(&o.req.Indices, "indices", "", "indices to restore, comma-separated, wildcards allowed (default: all in the snapshot)", "ES_RESTORE_INDICES")
	fs.String(&o.req.RenamePattern, "rename-pattern", "", "regular expression on index names, e.g. (.+)", "ES_RESTORE_RENAME_PATTERN")
	fs.String(&o.req.RenameReplacement, "rename-replacement", "", "replacement, e.g. restored_$1", "ES_RESTORE_RENAME_REPLACEMENT")
	fs.Bool(&o.req.IncludeGlobalState, "include-global-state", false, "restore the cluster state too", "ES_RESTORE_INCLUDE_GLOBAL_STATE")
	fs.Bool(&o.req.IncludeAliases, "include-aliases", true, "restore the indices' aliases", "ES_RESTORE_INCLUDE_ALIASES")
	fs.Bool(&o.wait, "wait", false, "wait until the restore finished and fail if a shard did not come back", "ES_RESTORE_WAIT")
}

// check takes the snapshot's name from the arguments too (flags may come
// before and after it).
func (o *restoreOptions) check(fs *clikit.FlagSet, args []string) error {
	for _, a := range args {
		if o.name != "" && o.name != a {
			return usagef("restore: two snapshots given (%q and %q)", o.name, a)
		}
		o.name = a
	}
	if err := o.repo.check(fs); err != nil {
		return err
	}
	if (o.req.RenamePattern == "") != (o.req.RenameReplacement == "") {
		return usagef("restore: --rename-pattern and --rename-replacement go together")
	}
	return o.naming.check()
}

// run is `es-snapshot restore [SNAPSHOT]`: the restored indices on
// stdout.
func (o *restoreOptions) run(ctx context.Context, r *snapshot.Runner, env Env) error {
	res, err := r.Restore(ctx, o.repo.name, o.name, o.naming.namer, o.req, o.wait)
	if err != nil {
		return err
	}
	if len(res.Indices) > 0 {
		fmt.Fprintln(env.Stdout, strings.Join(res.Indices, "\n"))
	}
	return nil
}
