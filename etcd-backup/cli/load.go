package cli

import (
	"context"
	"fmt"
	"os"

	"cronbox/clikit"
	"cronbox/etcd-backup/dump"
)

// loadOptions are load's flags.
type loadOptions struct {
	conn      connFlags
	src       sourceFlags
	overwrite bool
	tmp       string
}

func (o *loadOptions) define(fs *clikit.FlagSet) {
	o.conn.define(fs)
	o.src.define(fs)
	fs.Bool(&o.overwrite, "overwrite", false, "replace keys that already exist", "ETCD_BACKUP_OVERWRITE")
	fs.String(&o.tmp, "tmp-dir", os.TempDir(), "where an S3 dump is downloaded (and checked) before it is loaded", "ETCD_BACKUP_TMPDIR")
}

// run is `etcd-backup load [SRC]`: a dump (SRC, ETCD_DUMP_FILENAME,
// else stdin) into etcd.
func (o *loadOptions) run(ctx context.Context, fs *clikit.FlagSet, pos []string, env Env) error {
	if len(pos) > 1 {
		return usagef("one source, got %d arguments", len(pos))
	}
	src, err := dumpLocation(pos, env)
	if err != nil {
		return err
	}
	cfg, err := o.conn.config(env, fs)
	if err != nil {
		return err
	}
	fe, err := o.src.fetcher(src, env, fs)
	if err != nil {
		return err
	}
	dec, layers, err := fe.OpenDump(ctx, src, o.tmp)
	if err != nil {
		return err
	}
	defer dec.Close()
	cli, m, err := cfg.ConnectHealthy(ctx, nil)
	if err != nil {
		return err
	}
	defer cli.Close()
	st, err := dump.Load(ctx, cli, dec, o.overwrite, 100)
	if err != nil {
		return fmt.Errorf("etcd %s: load %s: %w", m.Endpoint, src, err)
	}
	newLogger(env).Info("dump loaded", "source", src.String(), "keys", st.Keys, "revision", st.Revision, "stored", layers.String())
	return nil
}
