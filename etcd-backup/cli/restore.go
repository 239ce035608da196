package cli

import (
	"context"
	"strconv"
	"strings"
	"time"

	"cronbox/clikit"
	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/incremental"
)

// restoreOptions are restore's flags.
type restoreOptions struct {
	src         sourceFlags
	o           backup.RestoreOptions
	peers, bump string
	pitr        pitrFlags
}

func (o *restoreOptions) define(fs *clikit.FlagSet) {
	o.src.define(fs)
	fs.String(&o.o.DataDir, "data-dir", "", "new data dir to restore into (must not exist)", "ETCD_BACKUP_DATA_DIR")
	fs.String(&o.o.WALDir, "wal-dir", "", "separate WAL dir (default DATA_DIR/member/wal)", "ETCD_BACKUP_WAL_DIR")
	fs.String(&o.o.Name, "name", "default", "member name of the restored member", "ETCD_NAME")
	fs.String(&o.o.InitialCluster, "initial-cluster", "", "initial cluster of the restored cluster (default NAME=first peer URL)", "ETCD_INITIAL_CLUSTER")
	fs.String(&o.o.InitialClusterToken, "initial-cluster-token", "etcd-cluster", "initial cluster token", "ETCD_INITIAL_CLUSTER_TOKEN")
	fs.String(&o.peers, "initial-advertise-peer-urls", "http://localhost:2380", "the restored member's peer URLs", "ETCD_INITIAL_ADVERTISE_PEER_URLS")
	fs.String(&o.bump, "bump-revision", "0", "add this much to the revision after restore (Kubernetes restores; needs --mark-compacted)", "ETCD_BACKUP_BUMP_REVISION")
	fs.Bool(&o.o.MarkCompacted, "mark-compacted", false, "mark the restored revision compacted (needs --bump-revision)", "ETCD_BACKUP_MARK_COMPACTED")
	o.pitr.define(fs)
}

// run is `etcd-backup restore SRC --data-dir DIR`: one backup, or a
// point in time of a chain.
func (o *restoreOptions) run(ctx context.Context, fs *clikit.FlagSet, pos []string, env Env) error {
	chainSrc, err := o.pitr.source(pos, fs)
	if err != nil {
		return err
	}
	var src backup.Location
	if chainSrc == nil {
		if src, err = oneSource(pos, "source"); err != nil {
			return err
		}
	}
	if err := o.options(fs); err != nil {
		return err
	}
	if chainSrc != nil {
		return runChainRestore(ctx, env, fs, &o.src, chainSrc, o.o)
	}
	fe, err := o.src.fetcher(src, env, fs)
	if err != nil {
		return err
	}
	res, err := fe.Restore(ctx, src, o.o)
	if err != nil {
		return err
	}
	printJSON(env.Stdout, struct {
		backup.VerifyResult
		DataDir string `json:"data_dir"`
	}{res, o.o.DataDir})
	return nil
}

// options checks what the restored member is to be and fills in the
// defaults that follow from it.
func (o *restoreOptions) options(fs *clikit.FlagSet) error {
	if o.o.DataDir == "" {
		return usagef("--data-dir is required")
	}
	var err error
	if o.o.BumpRevision, err = strconv.ParseUint(o.bump, 10, 64); err != nil {
		return usagef("%s %q: not a number", fs.Origin("bump-revision"), o.bump)
	}
	if o.o.MarkCompacted != (o.o.BumpRevision > 0) {
		return usagef("--bump-revision and --mark-compacted go together")
	}
	for _, u := range strings.Split(o.peers, ",") {
		if u = strings.TrimSpace(u); u != "" {
			o.o.PeerURLs = append(o.o.PeerURLs, u)
		}
	}
	if o.o.InitialCluster == "" && len(o.o.PeerURLs) > 0 {
		o.o.InitialCluster = o.o.Name + "=" + o.o.PeerURLs[0]
	}
	return nil
}

// pitrFlags choose a point in time of a chain to restore.
type pitrFlags struct{ toRevision, toTime string }

func (p *pitrFlags) define(fs *clikit.FlagSet) {
	fs.String(&p.toRevision, "to-revision", "", "restore exactly this revision from the chain under SRC (s3://bucket/prefix/)", "ETCD_BACKUP_TO_REVISION")
	fs.String(&p.toTime, "to-time", "", "restore the newest point at or before this time (RFC 3339, such as 2026-12-01T10:00:00Z) from the chain under SRC (s3://bucket/prefix/); with --to-revision, that revision of the chain as it stood then (revisions repeat after a cluster was restored)", "ETCD_BACKUP_TO_TIME")
}

// chainSource is a restore's source when it is a chain: SRC names a prefix,
// or a point in time is asked for.
type chainSource struct {
	bucket, prefix string
	target         incremental.Target
}

// source reads the restore's source as a chain (nil when it is one object).
func (p *pitrFlags) source(pos []string, fs *clikit.FlagSet) (*chainSource, error) {
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
			return nil, usagef("%s %q: want a revision (a number from 1)", fs.Origin("to-revision"), p.toRevision)
		}
		cs.target.Revision = r
	}
	if p.toTime != "" {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(p.toTime))
		if err != nil {
			return nil, usagef("%s %q: want an RFC 3339 time such as 2026-12-01T10:00:00Z", fs.Origin("to-time"), p.toTime)
		}
		cs.target.Time = t
	}
	return cs, nil
}

// runChainRestore restores a point in time from a chain.
func runChainRestore(ctx context.Context, env Env, fs *clikit.FlagSet, sf *sourceFlags, cs *chainSource, o backup.RestoreOptions) error {
	fe, err := sf.fetcher(backup.Location{Kind: backup.S3, Bucket: cs.bucket}, env, fs)
	if err != nil {
		return err
	}
	r := &incremental.Restorer{Log: newLogger(env), Store: fe.Store, Bucket: cs.bucket, Prefix: cs.prefix, Fetcher: fe}
	res, err := r.Restore(ctx, cs.target, o)
	if err != nil {
		return err
	}
	printJSON(env.Stdout, res)
	return nil
}
