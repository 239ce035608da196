package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"cronbox/clikit"
	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/incremental"
	"cronbox/go-cron/schedule"
	"cronbox/jobresult"
)

// incrFlags are the flags of `save --incremental`. They are read and
// checked whether or not --incremental is on, so a mistyped value never
// waits for the day it is switched on.
type incrFlags struct {
	on                            bool
	fullEvery, afterBytes, tmp    string
	afterDeltas                   int
	during                        time.Duration
	policy                        incremental.Policy
	fullEveryText, afterBytesText string
	bucket, prefix                string // where the chain is (with --incremental)
}

func (i *incrFlags) define(fs *clikit.FlagSet) {
	fs.Bool(&i.on, "incremental", false, "save only what changed since the chain's newest revision (a delta under PREFIX/delta/), or a full snapshot when one is due; DEST is s3://bucket/prefix/", "ETCD_BACKUP_INCREMENTAL")
	fs.String(&i.fullEvery, "full-every", "1h", "with --incremental: a full snapshot once this has passed since the last one: a duration (1h) or a schedule as go-cron reads it (@daily, 0 0 * * * *); off: never", "ETCD_BACKUP_FULL_EVERY")
	fs.Int(&i.afterDeltas, "full-after-deltas", 0, "with --incremental: a full snapshot once the chain has this many deltas (0: no limit)", "ETCD_BACKUP_FULL_AFTER_DELTAS")
	fs.String(&i.afterBytes, "full-after-bytes", "100%", "with --incremental: a full snapshot once the chain's deltas store this much: a size (512M) or a share of the full snapshot's size (100%); 0: no limit", "ETCD_BACKUP_FULL_AFTER_BYTES")
	fs.Duration(&i.during, "deltas-during-full", 10*time.Second, "with --incremental: while a full snapshot the policy asked for streams, a delta of the old chain this often, so that the recovery point does not wait for it (0: none)", "ETCD_BACKUP_DELTAS_DURING_FULL")
	fs.String(&i.tmp, "tmp-dir", os.TempDir(), "with --incremental: where a delta is written before its upload", "ETCD_BACKUP_TMPDIR")
}

// every is a full-snapshot schedule given as a duration.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// read checks the flags and builds the policy; with --incremental, dst is
// where the chain goes (s3://bucket/prefix/).
func (i *incrFlags) read(fs *clikit.FlagSet, dst string) error {
	if err := i.readFullEvery(fs); err != nil {
		return err
	}
	if i.afterDeltas < 0 {
		return usagef("%s: want a number of deltas (0: no limit)", fs.Quote("full-after-deltas"))
	}
	i.policy.AfterDeltas = i.afterDeltas
	b := strings.TrimSpace(i.afterBytes)
	if pct, ok := strings.CutSuffix(b, "%"); ok {
		p, err := strconv.Atoi(strings.TrimSpace(pct))
		if err != nil || p < 0 {
			return usagef("%s %q: want a size (512M) or a share of the full snapshot (100%%)", fs.Origin("full-after-bytes"), i.afterBytes)
		}
		i.policy.AfterPercent = p
		i.afterBytesText = b + " of the full snapshot"
	} else {
		size, err := clikit.ParseSize(b)
		if err != nil {
			return usagef("%s: %v (or a share of the full snapshot, such as 100%%)", fs.Origin("full-after-bytes"), err)
		}
		i.policy.AfterBytes = size
		i.afterBytesText = b
	}
	if err := fs.NonNegative("deltas-during-full"); err != nil {
		return err
	}
	if !i.on {
		return nil
	}
	if st, err := os.Stat(i.tmp); err != nil || !st.IsDir() {
		return usagef("%s %s: not a directory", fs.Origin("tmp-dir"), i.tmp)
	}
	var err error
	i.bucket, i.prefix, err = incrementalTarget(dst)
	return err
}

// readFullEvery reads --full-every: a duration, a schedule, or off.
func (i *incrFlags) readFullEvery(fs *clikit.FlagSet) error {
	v := strings.TrimSpace(i.fullEvery)
	switch strings.ToLower(v) {
	case "off", "never", "0", "":
		i.fullEveryText = "never on a schedule"
		return nil
	}
	if d, err := clikit.ParseDuration(v); err == nil {
		if d <= 0 {
			return usagef("%s %q: want a positive duration, a schedule or off", fs.Origin("full-every"), v)
		}
		i.policy.Every = every(d)
		i.fullEveryText = "every " + d.String()
		return nil
	}
	s, err := schedule.Parse(v, time.UTC)
	if err != nil {
		return usagef("%s: want a duration (1h), a schedule (@daily, 0 0 * * * *) or off: %v", fs.Origin("full-every"), err)
	}
	i.policy.Every = s
	i.fullEveryText = "on the schedule " + s.Text
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
func runIncrementalSave(ctx context.Context, env Env, s *backup.Saver, inc *incrFlags) error {
	is := &incremental.Saver{
		Log: s.Log, Conn: s.Conn, Store: s.Store, Bucket: inc.bucket, Prefix: inc.prefix,
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
