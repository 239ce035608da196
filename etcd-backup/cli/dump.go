package cli

import (
	"context"

	"cronbox/clikit"
	"cronbox/etcd-backup/backup"
)

// dumpOptions are dump's flags.
type dumpOptions struct {
	conn        connFlags
	s3          s3Flags
	codec       codecFlags
	key, bucket string
}

func (o *dumpOptions) define(fs *clikit.FlagSet) {
	o.conn.define(fs)
	o.s3.define(fs)
	o.codec.define(fs, "dump")
	fs.String(&o.key, "prefix", "", "dump the keys under this prefix (default: every key)", "ETCD_KEY")
	fs.String(&o.bucket, "bucket", "", "bucket for a relative s3 destination", "AWS_S3_BUCKET")
}

// run is `etcd-backup dump [DEST]`: a logical export of the keys
// under --prefix to DEST (ETCD_DUMP_FILENAME, else stdout).
func (o *dumpOptions) run(ctx context.Context, fs *clikit.FlagSet, pos []string, env Env) error {
	if len(pos) > 1 {
		return usagef("one destination, got %d arguments", len(pos))
	}
	dst, err := dumpLocation(pos, env)
	if err != nil {
		return err
	}
	log := newLogger(env)
	codecOpts, err := o.codec.options(env, fs, log)
	if err != nil {
		return err
	}
	layers := codecOpts.Layers()
	warnSuffix(log, dst, layers)
	d := &backup.Dumper{Stdout: env.Stdout, Codec: codecOpts}
	if d.Conn, err = o.conn.config(env, fs); err != nil {
		return err
	}
	if dst.Kind == backup.S3 {
		if d.Store, err = o.s3.store(env, fs, log); err != nil {
			return err
		}
	}
	if env.check != nil {
		return env.check.dump(env, o.conn, o.key, dst)
	}
	st, err := d.Dump(ctx, dst, o.key)
	if err != nil {
		return err
	}
	log.Info("dump written", "destination", dst.String(), "keys", st.Keys, "revision", st.Revision, "prefix", o.key,
		"compression", string(layers.Compression), "encrypted", layers.Encrypted)
	return nil
}

// dumpLocation is where dump writes and load reads: the argument, else
// ETCD_DUMP_FILENAME (the original image's), else stdio.
func dumpLocation(pos []string, env Env) (backup.Location, error) {
	arg := env.Getenv("ETCD_DUMP_FILENAME")
	if len(pos) == 1 {
		arg = pos[0]
	}
	if arg == "" {
		arg = "-"
	}
	l, err := backup.ParseLocation(arg, "")
	return l, clikit.Usage(err)
}
