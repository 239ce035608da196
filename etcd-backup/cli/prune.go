package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"cronbox/clikit"
	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/incremental"
)

// pruneOptions are prune's flags.
type pruneOptions struct {
	s3             s3Flags
	bucket, prefix string
	o              backup.PruneOptions
}

// pruneTiers are the keep-* flags: each keeps the newest backup of each of
// the last N periods (keep-last: the newest N backups).
var pruneTiers = []struct {
	name, help string
	n          func(*backup.PruneOptions) *int
}{
	{"last", "keep the newest N backups", func(o *backup.PruneOptions) *int { return &o.Tiers.Last }},
	{"hourly", "keep the newest backup of each of the last N hours that have one (-1: every hour)", func(o *backup.PruneOptions) *int { return &o.Tiers.Hourly }},
	{"daily", "keep the newest backup of each of the last N days that have one (-1: every day)", func(o *backup.PruneOptions) *int { return &o.Tiers.Daily }},
	{"weekly", "keep the newest backup of each of the last N ISO weeks that have one (-1: every week)", func(o *backup.PruneOptions) *int { return &o.Tiers.Weekly }},
	{"monthly", "keep the newest backup of each of the last N months that have one (-1: every month)", func(o *backup.PruneOptions) *int { return &o.Tiers.Monthly }},
	{"yearly", "keep the newest backup of each of the last N years that have one (-1: every year)", func(o *backup.PruneOptions) *int { return &o.Tiers.Yearly }},
}

func (o *pruneOptions) define(fs *clikit.FlagSet) {
	o.s3.define(fs)
	fs.String(&o.bucket, "bucket", "", "bucket when no URL is given", "AWS_S3_BUCKET")
	fs.String(&o.prefix, "prefix", "etcd-backup/", "the prefix (a folder) save writes under; nothing else is touched", "ETCD_BACKUP_PREFIX")
	for _, t := range pruneTiers {
		vars := []string{"ETCD_BACKUP_KEEP_" + strings.ToUpper(t.name)}
		if t.name == "last" {
			vars = append(vars, "ETCD_KEEP_LAST")
		}
		fs.Int(t.n(&o.o), "keep-"+t.name, 0, t.help+" (UTC)", vars...)
	}
	fs.Duration(&o.o.KeepWithin, "keep-within", 0, "keep backups younger than this (such as 36h, 7d)", "ETCD_BACKUP_KEEP_WITHIN")
	fs.Int(&o.o.MinKeep, "min-keep", 1, "always keep at least this many verified backups (at least 1): the newest verified backup is never deleted", "ETCD_BACKUP_MIN_KEEP", "ETCD_MIN_KEEP")
	fs.Bool(&o.o.DryRun, "dry-run", false, "print the plan (what is kept and why), delete nothing", "ETCD_BACKUP_DRY_RUN")
}

// run is `etcd-backup prune [s3://bucket/prefix/]`: backups beyond the
// policy deleted, whole chains where the prefix holds deltas.
func (o *pruneOptions) run(ctx context.Context, fs *clikit.FlagSet, pos []string, env Env) error {
	o.o.Now = env.Now()
	if err := o.target(fs, pos); err != nil {
		return err
	}
	if err := o.policy(fs); err != nil {
		return err
	}
	store, err := o.s3.store(env, fs, newLogger(env))
	if err != nil {
		return err
	}
	if env.check != nil {
		return env.check.prune(o.o)
	}
	if chains, err := incremental.HasDeltas(ctx, store, o.o.Bucket, o.o.Prefix); err != nil || chains {
		if err != nil {
			return err
		}
		return pruneChains(ctx, env, store, o.o)
	}
	plan, err := backup.Prune(ctx, store, o.o)
	printPlan(env.Stdout, o.o, plan)
	return err
}

// target reads the bucket and prefix: the argument, else --bucket and --prefix.
func (o *pruneOptions) target(fs *clikit.FlagSet, pos []string) error {
	switch len(pos) {
	case 0:
		if o.bucket == "" {
			return usagef("no bucket: give s3://bucket/prefix/ or set AWS_S3_BUCKET")
		}
		if err := backup.CheckPrefix(o.prefix); err != nil {
			return usagef("%s: %v", fs.Origin("prefix"), err)
		}
		o.o.Bucket, o.o.Prefix = o.bucket, backup.NormalizePrefix(o.prefix)
	case 1:
		rest, ok := strings.CutPrefix(pos[0], "s3://")
		if !ok {
			return usagef("%s: prune works on s3://bucket/prefix/", pos[0])
		}
		o.o.Bucket, o.o.Prefix, _ = strings.Cut(rest, "/")
		if o.o.Bucket == "" {
			return usagef("%s: want s3://bucket/ or s3://bucket/prefix/", pos[0])
		}
		if err := backup.CheckPrefix(o.o.Prefix); err != nil {
			return usagef("%s: %v", pos[0], err)
		}
		// The prefix is a folder, as save reads it (a missing "/" is added).
		o.o.Prefix = backup.NormalizePrefix(o.o.Prefix)
	default:
		return usagef("one s3://bucket/prefix/, got %d arguments", len(pos))
	}
	return nil
}

// policy checks what is kept.
func (o *pruneOptions) policy(fs *clikit.FlagSet) error {
	for _, t := range pruneTiers {
		n := *t.n(&o.o)
		switch {
		case t.name == "last" && n < 0:
			return usagef("%s: want a count (to keep every backup, do not prune)", fs.Quote("keep-last"))
		case n < -1:
			return usagef("%s: want a count (or -1: no limit)", fs.Quote("keep-"+t.name))
		}
	}
	if err := fs.NonNegative("keep-within"); err != nil {
		return err
	}
	return clikit.Usage(o.o.Validate())
}

// printPlan prints one line per backup: what happens to it and why.
func printPlan(w io.Writer, o backup.PruneOptions, plan []backup.Decision) {
	kept := 0
	for _, d := range plan {
		verb := "keep"
		if d.Keep {
			kept++
		} else {
			verb = deleteVerb(o.DryRun)
		}
		v := "verified"
		if !d.Verified {
			v = "unverified"
		}
		fmt.Fprintf(w, "%s s3://%s/%s (%s, %s): %s\n", verb, o.Bucket, d.Key, v, d.Layers, d.Why)
	}
	what := "deleted"
	if o.DryRun {
		what = "to delete (dry run: nothing deleted)"
	}
	fmt.Fprintf(w, "prune s3://%s/%s: %d backups, %d kept, %d %s; policy: %s", o.Bucket, o.Prefix, len(plan), kept, len(plan)-kept, what, o.Tiers)
	if o.KeepWithin > 0 {
		fmt.Fprintf(w, ", within %s", o.KeepWithin)
	}
	fmt.Fprintf(w, ", min-keep %d verified\n", o.MinKeep)
}

func deleteVerb(dryRun bool) string {
	if dryRun {
		return "would delete"
	}
	return "delete"
}

// pruneChains is prune on a prefix that holds deltas: retention by points
// in time, keeping whole chains.
func pruneChains(ctx context.Context, env Env, st backup.Store, o backup.PruneOptions) error {
	plan, err := incremental.Prune(ctx, st, o)
	for _, d := range plan {
		verb := "keep"
		if !d.Keep {
			verb = deleteVerb(o.DryRun)
		}
		kind := "delta"
		if d.IsFull {
			kind = "full"
		}
		fmt.Fprintf(env.Stdout, "%s s3://%s/%s (%s, %s)\n", verb, o.Bucket, d.Key, kind, d.Why)
	}
	return err
}
