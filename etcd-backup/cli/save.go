package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"cronbox/clikit"
	"cronbox/codec"
	"cronbox/etcd-backup/backup"
)

// saveOptions are save's flags.
type saveOptions struct {
	conn              connFlags
	s3                s3Flags
	codec             codecFlags
	lock              lockFlags
	inc               incrFlags
	bucket, prefix    string
	progress, timeout time.Duration
	rate              int64
}

func (o *saveOptions) define(fs *clikit.FlagSet) {
	o.conn.define(fs)
	o.s3.define(fs)
	o.codec.define(fs, "snapshot")
	o.lock.define(fs)
	fs.String(&o.bucket, "bucket", "", "bucket used when DEST is omitted", "AWS_S3_BUCKET")
	fs.String(&o.prefix, "prefix", "etcd-backup/", "key prefix (a folder) for timestamped backup names: PREFIX/YYYYMMDDTHHMMSS.mmmZ.db[.zst|.gz][.age]", "ETCD_BACKUP_PREFIX")
	fs.Duration(&o.progress, "progress", 10*time.Second, "interval of progress lines on long saves", "ETCD_BACKUP_PROGRESS")
	fs.Duration(&o.timeout, "save-timeout", time.Hour, "deadline of the whole snapshot transfer", "ETCD_BACKUP_SAVE_TIMEOUT")
	fs.Size(&o.rate, "rate-limit", 0, "read the snapshot at most this fast, bytes per second (such as 50M); 0 = no limit", "ETCD_BACKUP_RATE_LIMIT")
	o.inc.define(fs)
}

// run is `etcd-backup save [DEST]`: one snapshot, or with --incremental
// the chain's next step.
func (o *saveOptions) run(ctx context.Context, fs *clikit.FlagSet, pos []string, env Env) error {
	dst, s, err := o.saver(fs, pos, env)
	if err != nil {
		return err
	}
	if env.check != nil {
		if o.inc.on {
			return env.check.incremental(env, o.conn, s, "s3://"+o.inc.bucket+"/"+o.inc.prefix, o.inc.describe())
		}
		return env.check.save(env, o.conn, s, dst)
	}
	if s.LockMode != "" {
		// Refused before the snapshot starts: a bucket without object lock
		// would refuse every run the same way.
		if st, ok := s.Store.(backup.S3Store); ok {
			if err := st.CheckObjectLock(ctx, dst.Bucket); err != nil {
				return usagef("%s %s: %v", fs.Origin("object-lock-mode"), s.LockMode, err)
			}
		}
	}
	if o.inc.on {
		return runIncrementalSave(ctx, env, s, &o.inc)
	}
	res, err := s.Save(ctx, dst)
	if err != nil {
		return err
	}
	locked := "not object-locked"
	if res.LockedUntil != nil {
		locked = fmt.Sprintf("object-locked (%s) until %s", res.LockMode, res.LockedUntil.Format(time.RFC3339))
	}
	fmt.Fprintf(env.Stderr, "etcd-backup save: %s: %s, %s\n", res.Dest, describeLayers(s.Codec.Layers()), locked)
	reportSave(env, s.Log, res)
	out := env.Stdout
	if dst.Kind == backup.Stdio {
		out = env.Stderr
	}
	printJSON(out, res)
	return nil
}

// saver reads save's configuration: where the snapshot goes, and the saver
// that takes it.
func (o *saveOptions) saver(fs *clikit.FlagSet, pos []string, env Env) (backup.Location, *backup.Saver, error) {
	var dst backup.Location
	if len(pos) > 1 {
		return dst, nil, usagef("one destination, got %d arguments", len(pos))
	}
	arg := ""
	if len(pos) == 1 {
		arg = pos[0]
	}
	arg, err := s3Target(arg, o.bucket, o.prefix, fs.Origin("prefix"))
	if err != nil {
		return dst, nil, err
	}
	if err := o.inc.read(fs, arg); err != nil {
		return dst, nil, err
	}
	log := newLogger(env)
	codecOpts, err := o.codec.options(env, fs, log)
	if err != nil {
		return dst, nil, err
	}
	layers := codecOpts.Layers()
	if dst, err = backup.ParseLocation(arg, backup.BackupName(env.Now(), layers)); err != nil {
		return dst, nil, clikit.Usage(err)
	}
	warnSuffix(log, dst, layers)
	cfg, err := o.conn.config(env, fs)
	if err != nil {
		return dst, nil, err
	}
	if err := fs.NonNegative("progress", "save-timeout"); err != nil {
		return dst, nil, err
	}
	s := &backup.Saver{Log: log, Conn: cfg, Stdout: env.Stdout, Now: env.Now, Codec: codecOpts,
		Progress: o.progress, Timeout: o.timeout, RateLimit: o.rate}
	if s.LockMode, s.LockRetain, err = o.lock.parse(fs); err != nil {
		return dst, nil, err
	}
	if s.LockMode != "" && dst.Kind != backup.S3 {
		return dst, nil, usagef("%s: an object lock needs an S3 destination, not %s", fs.Origin("object-lock-mode"), dst)
	}
	if dst.Kind == backup.S3 {
		if s.Store, err = o.s3.store(env, fs, s.Log); err != nil {
			return dst, nil, err
		}
	}
	return dst, s, nil
}

// s3Target turns "s3://bucket" (no key) into "s3://bucket/PREFIX", and an
// empty destination into the default bucket's prefix. The prefix is a
// folder (backup.NormalizePrefix): save and prune read it alike.
func s3Target(arg, bucket, prefix, prefixOrigin string) (string, error) {
	if err := backup.CheckPrefix(prefix); err != nil {
		return "", usagef("%s: %v", prefixOrigin, err)
	}
	prefix = backup.NormalizePrefix(prefix)
	if arg == "" {
		if bucket == "" {
			return "", usagef("no destination: give -, a path or s3://bucket/key, or set AWS_S3_BUCKET")
		}
		return "s3://" + bucket + "/" + prefix, nil
	}
	if rest, ok := strings.CutPrefix(arg, "s3://"); ok && !strings.Contains(rest, "/") {
		return arg + "/" + prefix, nil
	}
	return arg, nil
}

// warnSuffix warns when a destination's name does not end as what is
// stored there (.zst, .age...): stock tools go by it.
func warnSuffix(log *slog.Logger, dst backup.Location, layers codec.Layers) {
	if dst.Kind != backup.Stdio && !strings.HasSuffix(dst.String(), layers.Suffix()) {
		log.Warn("the destination's name does not say how it is stored: stock tools go by the suffix", "destination", dst.String(), "suffix", layers.Suffix())
	}
}
