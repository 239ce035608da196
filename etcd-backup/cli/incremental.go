package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/incremental"
	"cronbox/go-cron/schedule"
	"cronbox/jobresult"
)

// incrFlags are the flags of `save --incremental`. They are read and
// checked whether or not --incremental is on, so a mistyped value never
// waits for the day it is switched on.
type incrFlags struct {
	on                                 bool
	fullEvery, afterDeltas, afterBytes string
	duringFull, tmp                    string
	policy                             incremental.Policy
	during                             time.Duration
	fullEveryText, afterBytesText      string
}

func (i *incrFlags) define(f *flags) {
	f.boolean(&i.on, "incremental", "save only what changed since the chain's newest revision (a delta under PREFIX/delta/), or a full snapshot when one is due; DEST is s3://bucket/prefix/", "ETCD_BACKUP_INCREMENTAL")
	f.str(&i.fullEvery, "full-every", "1h", "with --incremental: a full snapshot once this has passed since the last one: a duration (1h) or a schedule as go-cron reads it (@daily, 0 0 * * * *); off: never", "ETCD_BACKUP_FULL_EVERY")
	f.str(&i.afterDeltas, "full-after-deltas", "0", "with --incremental: a full snapshot once the chain has this many deltas (0: no limit)", "ETCD_BACKUP_FULL_AFTER_DELTAS")
	f.str(&i.afterBytes, "full-after-bytes", "100%", "with --incremental: a full snapshot once the chain's deltas store this much: a size (512M) or a share of the full snapshot's size (100%); 0: no limit", "ETCD_BACKUP_FULL_AFTER_BYTES")
	f.str(&i.duringFull, "deltas-during-full", "10s", "with --incremental: while a full snapshot the policy asked for streams, a delta of the old chain this often, so that the recovery point does not wait for it (0: none)", "ETCD_BACKUP_DELTAS_DURING_FULL")
	f.str(&i.tmp, "tmp-dir", os.TempDir(), "with --incremental: where a delta is written before its upload", "ETCD_BACKUP_TMPDIR")
}

// every is a full-snapshot schedule given as a duration.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// read checks the flags and builds the policy.
func (i *incrFlags) read(f *flags) error {
	switch v := strings.TrimSpace(i.fullEvery); strings.ToLower(v) {
	case "off", "never", "0", "":
		i.fullEveryText = "never on a schedule"
	default:
		if d, err := parseDuration(v); err == nil {
			if d <= 0 {
				return usagef("%s %q: want a positive duration, a schedule or off", f.origin("full-every"), v)
			}
			i.policy.Every = every(d)
			i.fullEveryText = "every " + d.String()
			break
		}
		s, err := schedule.Parse(v, time.UTC)
		if err != nil {
			return usagef("%s: want a duration (1h), a schedule (@daily, 0 0 * * * *) or off: %v", f.origin("full-every"), err)
		}
		i.policy.Every = s
		i.fullEveryText = "on the schedule " + s.Text
	}
	n, err := strconv.Atoi(strings.TrimSpace(i.afterDeltas))
	if err != nil || n < 0 {
		return usagef("%s %q: want a number of deltas (0: no limit)", f.origin("full-after-deltas"), i.afterDeltas)
	}
	i.policy.AfterDeltas = n
	b := strings.TrimSpace(i.afterBytes)
	if pct, ok := strings.CutSuffix(b, "%"); ok {
		p, err := strconv.Atoi(strings.TrimSpace(pct))
		if err != nil || p < 0 {
			return usagef("%s %q: want a size (512M) or a share of the full snapshot (100%%)", f.origin("full-after-bytes"), i.afterBytes)
		}
		i.policy.AfterPercent = p
		i.afterBytesText = b + " of the full snapshot"
	} else {
		size, err := parseSize(b)
		if err != nil {
			return usagef("%s: %v (or a share of the full snapshot, such as 100%%)", f.origin("full-after-bytes"), err)
		}
		i.policy.AfterBytes = size
		i.afterBytesText = b
	}
	d, err := parseDuration(i.duringFull)
	if err != nil {
		return usagef("%s: %v", f.origin("deltas-during-full"), err)
	}
	i.during = d
	if i.on {
		if st, err := os.Stat(i.tmp); err != nil || !st.IsDir() {
			return usagef("%s %s: not a directory", f.origin("tmp-dir"), i.tmp)
		}
	}
	return nil
}

// describe is the policy in words, for check.
func (i *incrFlags) describe() string {
	s := "a full snapshot " + i.fullEveryText
	if i.policy.AfterDeltas > 0 {
		s += fmt.Sprintf(", after %d deltas", i.policy.AfterDeltas)
	}
	if i.policy.AfterBytes > 0 || i.policy.AfterPercent > 0 {
		s += ", after deltas of " + i.afterBytesText
	}
	s += ", when etcd compacted the chain's next revision, or when etcd is not the chain's"
	if i.during > 0 {
		s += "; while a full snapshot streams, a delta every " + i.during.String()
	}
	return s
}

// incrementalTarget reads save --incremental's destination: a bucket and
// a prefix (s3://bucket/prefix/), never one object.
func incrementalTarget(arg string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(arg, "s3://")
	if !ok {
		return "", "", usagef("%s: --incremental saves to S3: give s3://bucket/prefix/ (or set AWS_S3_BUCKET and ETCD_BACKUP_PREFIX)", arg)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" || (prefix != "" && !strings.HasSuffix(prefix, "/")) {
		return "", "", usagef("%s: --incremental writes a chain under a prefix: give s3://bucket/prefix/ (ending in /)", arg)
	}
	return bucket, prefix, nil
}

// runIncrementalSave is `save --incremental`, with the full-snapshot
// saver runSave built.
func runIncrementalSave(ctx context.Context, env Env, s *backup.Saver, inc *incrFlags, bucket, prefix string) error {
	is := &incremental.Saver{
		Log: s.Log, Conn: s.Conn, Store: s.Store, Bucket: bucket, Prefix: prefix,
		Full: s, Policy: inc.policy, DuringFull: inc.during, TmpDir: inc.tmp, Timeout: s.Timeout, Now: env.Now,
		FullName: func(t time.Time) string { return backup.BackupName(t, s.Codec.Layers()) },
	}
	res, err := is.Save(ctx)
	if err != nil {
		return err
	}
	reportIncremental(env, s, res)
	printJSON(env.Stdout, res)
	return nil
}

// reportIncremental hands the run to go-cron (GOCRON_RESULT_FILE): what it
// wrote, and the chain, whose time is the recovery point the status port
// shows. A run that found nothing new reports the chain alone: the
// recovery point moved to now.
func reportIncremental(env Env, s *backup.Saver, res incremental.Result) {
	c := res.Chain
	r := jobresult.Result{Kind: "etcd-delta", Chain: &jobresult.Chain{Full: c.Full, FullTime: c.FullTime.UTC(), FullRevision: c.FullRevision,
		Deltas: c.Deltas, DeltaBytes: c.DeltaBytes, Revision: c.Revision, Time: c.Time.UTC()}}
	layers := s.Codec.Layers()
	if layers.Compressed() {
		r.Compressed = string(layers.Compression)
	}
	if layers.Encrypted {
		r.Encrypted = "age"
	}
	switch {
	case res.Full != nil:
		f := res.Full
		r.Kind, r.Location, r.Size, r.SHA256, r.Seconds = "etcd-snapshot", f.Dest, f.Size, f.SHA256, f.Seconds
		r.Etcd = &jobresult.Etcd{Revision: f.Revision, MemberID: f.MemberID, ClusterID: f.ClusterID, Version: f.Version, Endpoint: f.Endpoint}
		r.Message = "full snapshot: " + res.Reason
		if f.LockedUntil != nil {
			r.Locked = f.LockMode + " until " + f.LockedUntil.UTC().Format(time.RFC3339)
		}
	case res.Delta != nil:
		d := res.Delta
		r.Location, r.Size, r.SHA256, r.Seconds = d.Destination, d.Size, d.SHA256, d.Seconds
		r.Etcd = &jobresult.Etcd{Revision: d.To, MemberID: d.MemberID, ClusterID: d.ClusterID, Version: d.Version, Endpoint: d.Endpoint}
		r.Message = fmt.Sprintf("delta of revisions %d to %d: %d events (%d puts, %d deletes)", d.From, d.To, d.Events, d.Puts, d.Deletes)
		if s.LockMode != "" {
			r.Locked = s.LockMode + " until " + c.Time.Add(s.LockRetain).UTC().Format(time.RFC3339)
		}
	default:
		r.Compressed, r.Encrypted = "", ""
		r.Message = fmt.Sprintf("nothing changed since revision %d: no object written", c.Revision)
	}
	jobresult.Report(env.Getenv, s.Log, r)
}

// pitrFlags choose a point in time of a chain to restore.
type pitrFlags struct{ toRevision, toTime string }

func (p *pitrFlags) define(f *flags) {
	f.str(&p.toRevision, "to-revision", "", "restore exactly this revision from the chain under SRC (s3://bucket/prefix/)", "ETCD_BACKUP_TO_REVISION")
	f.str(&p.toTime, "to-time", "", "restore the newest point at or before this time (RFC 3339, such as 2026-12-01T10:00:00Z) from the chain under SRC (s3://bucket/prefix/); with --to-revision, that revision of the chain as it stood then (revisions repeat after a cluster was restored)", "ETCD_BACKUP_TO_TIME")
}

// chainSource is a restore's source when it is a chain: SRC names a prefix,
// or a point in time is asked for.
type chainSource struct {
	bucket, prefix string
	target         incremental.Target
}

// source reads the restore's source as a chain (nil when it is one object).
func (p *pitrFlags) source(pos []string, f *flags) (*chainSource, error) {
	asked := p.toRevision != "" || p.toTime != ""
	prefixArg := len(pos) == 1 && strings.HasPrefix(pos[0], "s3://") && (strings.HasSuffix(pos[0], "/") || !strings.Contains(strings.TrimPrefix(pos[0], "s3://"), "/"))
	if !asked && !prefixArg {
		return nil, nil
	}
	if len(pos) != 1 {
		return nil, usagef("want one source: s3://bucket/prefix/ holding the chain, got %d arguments", len(pos))
	}
	if !prefixArg {
		return nil, usagef("%s: --to-revision and --to-time restore from a chain: give its s3://bucket/prefix/ (ending in /)", pos[0])
	}
	cs := &chainSource{}
	cs.bucket, cs.prefix, _ = strings.Cut(strings.TrimPrefix(pos[0], "s3://"), "/")
	if cs.bucket == "" {
		return nil, usagef("%s: no bucket", pos[0])
	}
	if p.toRevision != "" {
		r, err := strconv.ParseInt(strings.TrimSpace(p.toRevision), 10, 64)
		if err != nil || r < 1 {
			return nil, usagef("%s %q: want a revision (a number from 1)", f.origin("to-revision"), p.toRevision)
		}
		cs.target.Revision = r
	}
	if p.toTime != "" {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(p.toTime))
		if err != nil {
			return nil, usagef("%s %q: want an RFC 3339 time such as 2026-12-01T10:00:00Z", f.origin("to-time"), p.toTime)
		}
		cs.target.Time = t
	}
	return cs, nil
}

// runChainRestore restores a point in time from a chain.
func runChainRestore(ctx context.Context, env Env, f *flags, s3f *s3Flags, kf *keyFlags, cs *chainSource, o backup.RestoreOptions) error {
	log := newLogger(env.Stderr, env.Getenv)
	fe, err := fetcher(backup.Location{Kind: backup.S3, Bucket: cs.bucket}, s3f, kf, env, f)
	if err != nil {
		return err
	}
	r := &incremental.Restorer{Log: log, Store: fe.Store, Bucket: cs.bucket, Prefix: cs.prefix, Fetcher: fe}
	res, err := r.Restore(ctx, cs.target, o)
	if err != nil {
		return err
	}
	printJSON(env.Stdout, res)
	return nil
}

// pruneChains is prune on a prefix that holds deltas: retention by points
// in time, keeping whole chains.
func pruneChains(ctx context.Context, env Env, st backup.Store, o backup.PruneOptions) error {
	plan, err := incremental.Prune(ctx, st, o)
	for _, d := range plan {
		verb := "keep"
		if !d.Keep {
			verb = "delete"
			if o.DryRun {
				verb = "would delete"
			}
		}
		kind := "delta"
		if d.IsFull {
			kind = "full"
		}
		fmt.Fprintf(env.Stdout, "%s s3://%s/%s (%s, %s)\n", verb, o.Bucket, d.Key, kind, d.Why)
	}
	return err
}
