package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/dump"
)

// s3Target turns "s3://bucket" (no key) into "s3://bucket/PREFIX", and an
// empty destination into the default bucket's prefix.
func s3Target(arg, bucket, prefix string) (string, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	prefix = strings.TrimPrefix(prefix, "/")
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

func runSave(ctx context.Context, args []string, env Env) error {
	f := newFlags("save", "save [flags] [DEST]", env)
	var conn connFlags
	var s3f s3Flags
	var bucket, prefix, progress, timeout, rate string
	conn.define(f)
	s3f.define(f)
	f.str(&bucket, "bucket", "", "bucket used when DEST is omitted", "AWS_S3_BUCKET")
	f.str(&prefix, "prefix", "etcd-backup/", "key prefix for timestamped backup names", "ETCD_BACKUP_PREFIX")
	f.str(&progress, "progress", "10s", "interval of progress lines on long saves", "ETCD_BACKUP_PROGRESS")
	f.str(&timeout, "save-timeout", "1h", "deadline of the whole snapshot transfer", "ETCD_BACKUP_SAVE_TIMEOUT")
	f.str(&rate, "rate-limit", "0", "read the snapshot at most this fast, bytes per second (such as 50M); 0 = no limit", "ETCD_BACKUP_RATE_LIMIT")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("one destination, got %d arguments", len(pos))
	}
	arg := ""
	if len(pos) == 1 {
		arg = pos[0]
	}
	if arg, err = s3Target(arg, bucket, prefix); err != nil {
		return err
	}
	dst, err := backup.ParseLocation(arg, true, env.Now())
	if err != nil {
		return usageError{err}
	}
	cfg, err := conn.config(env, f)
	if err != nil {
		return err
	}
	s := &backup.Saver{Log: newLogger(env.Stderr, env.Getenv), Conn: cfg, Stdout: env.Stdout, Now: env.Now}
	if s.Progress, err = parseDuration(progress); err != nil {
		return usagef("%s: %v", f.origin("progress"), err)
	}
	if s.Timeout, err = parseDuration(timeout); err != nil {
		return usagef("%s: %v", f.origin("save-timeout"), err)
	}
	if s.RateLimit, err = parseSize(rate); err != nil {
		return usagef("%s: %v", f.origin("rate-limit"), err)
	}
	if dst.Kind == backup.S3 {
		if s.Store, err = s3f.store(env, f, s.Log); err != nil {
			return err
		}
	}
	if env.check != nil {
		return env.check.save(env, conn, s, dst)
	}
	res, err := s.Save(ctx, dst)
	if err != nil {
		return err
	}
	reportSave(env, s.Log, res)
	out := env.Stdout
	if dst.Kind == backup.Stdio {
		out = env.Stderr
	}
	printJSON(out, res)
	return nil
}

// fetcher builds what verify, restore and load read sources with.
func fetcher(src backup.Location, s3f *s3Flags, env Env, f *flags) (*backup.Fetcher, error) {
	fe := &backup.Fetcher{Stdin: env.Stdin}
	if src.Kind == backup.S3 {
		st, err := s3f.store(env, f, newLogger(env.Stderr, env.Getenv))
		if err != nil {
			return nil, err
		}
		fe.Store = st
	}
	return fe, nil
}

func oneSource(pos []string, what string, env Env) (backup.Location, error) {
	if len(pos) != 1 {
		return backup.Location{}, usagef("want one %s (-, a path or s3://bucket/key), got %d arguments", what, len(pos))
	}
	l, err := backup.ParseLocation(pos[0], false, env.Now())
	if err != nil {
		return l, usageError{err}
	}
	return l, nil
}

func runVerify(ctx context.Context, args []string, env Env) error {
	f := newFlags("verify", "verify [flags] SRC", env)
	var s3f s3Flags
	var tmp, format string
	s3f.define(f)
	f.str(&tmp, "tmp-dir", os.TempDir(), "where the backup is downloaded to read its status", "ETCD_BACKUP_TMPDIR")
	f.str(&format, "write-out", "simple", "simple or json", "ETCD_BACKUP_WRITE_OUT")
	f.fs.StringVar(&format, "w", "simple", "short for --write-out")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if format != "simple" && format != "json" {
		return usagef("--write-out %q: simple or json", format)
	}
	src, err := oneSource(pos, "source", env)
	if err != nil {
		return err
	}
	fe, err := fetcher(src, &s3f, env, f)
	if err != nil {
		return err
	}
	if env.check != nil {
		return env.check.verify(src)
	}
	res, err := fe.Verify(ctx, src, tmp)
	if err != nil {
		return err
	}
	reportVerified(env, newLogger(env.Stderr, env.Getenv), res)
	if format == "json" {
		printJSON(env.Stdout, res)
		return nil
	}
	recorded := "none recorded"
	switch {
	case res.Recorded != "":
		recorded = "matches the recorded one"
	case res.Checksum != "":
		recorded = "the object matches its stored " + strings.Fields(res.Checksum)[0]
	}
	fmt.Fprintf(env.Stdout, "%s: sha256 %s (%s), snapshot trailer sha256 %s ok\n", res.Source, res.SHA256, recorded, res.DBSHA256)
	fmt.Fprintf(env.Stdout, "HASH, REVISION, TOTAL KEYS, TOTAL SIZE, VERSION\n%x, %d, %d, %d, %s\n", res.Hash, res.Revision, res.TotalKey, res.DBSize, res.Version)
	return nil
}

func runRestore(ctx context.Context, args []string, env Env) error {
	f := newFlags("restore", "restore [flags] SRC --data-dir DIR", env)
	var s3f s3Flags
	var o backup.RestoreOptions
	var peers, bump string
	s3f.define(f)
	f.str(&o.DataDir, "data-dir", "", "new data dir to restore into (must not exist)", "ETCD_BACKUP_DATA_DIR")
	f.str(&o.WALDir, "wal-dir", "", "separate WAL dir (default DATA_DIR/member/wal)", "ETCD_BACKUP_WAL_DIR")
	f.str(&o.Name, "name", "default", "member name of the restored member", "ETCD_NAME")
	f.str(&o.InitialCluster, "initial-cluster", "", "initial cluster of the restored cluster (default NAME=first peer URL)", "ETCD_INITIAL_CLUSTER")
	f.str(&o.InitialClusterToken, "initial-cluster-token", "etcd-cluster", "initial cluster token", "ETCD_INITIAL_CLUSTER_TOKEN")
	f.str(&peers, "initial-advertise-peer-urls", "http://localhost:2380", "the restored member's peer URLs", "ETCD_INITIAL_ADVERTISE_PEER_URLS")
	f.str(&bump, "bump-revision", "0", "add this much to the revision after restore (Kubernetes restores; needs --mark-compacted)", "ETCD_BACKUP_BUMP_REVISION")
	f.boolean(&o.MarkCompacted, "mark-compacted", "mark the restored revision compacted (needs --bump-revision)", "ETCD_BACKUP_MARK_COMPACTED")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	src, err := oneSource(pos, "source", env)
	if err != nil {
		return err
	}
	if o.DataDir == "" {
		return usagef("--data-dir is required")
	}
	if o.BumpRevision, err = strconv.ParseUint(bump, 10, 64); err != nil {
		return usagef("%s %q: not a number", f.origin("bump-revision"), bump)
	}
	if o.MarkCompacted != (o.BumpRevision > 0) {
		return usagef("--bump-revision and --mark-compacted go together")
	}
	for _, u := range strings.Split(peers, ",") {
		if u = strings.TrimSpace(u); u != "" {
			o.PeerURLs = append(o.PeerURLs, u)
		}
	}
	if o.InitialCluster == "" && len(o.PeerURLs) > 0 {
		o.InitialCluster = o.Name + "=" + o.PeerURLs[0]
	}
	fe, err := fetcher(src, &s3f, env, f)
	if err != nil {
		return err
	}
	res, err := fe.Restore(ctx, src, o)
	if err != nil {
		return err
	}
	printJSON(env.Stdout, struct {
		backup.VerifyResult
		DataDir string `json:"data_dir"`
	}{res, o.DataDir})
	return nil
}

func runDump(ctx context.Context, args []string, env Env) error {
	f := newFlags("dump", "dump [flags] [DEST]", env)
	var conn connFlags
	var s3f s3Flags
	var key, bucket string
	conn.define(f)
	s3f.define(f)
	f.str(&key, "prefix", "", "dump the keys under this prefix (default: every key)", "ETCD_KEY")
	f.str(&bucket, "bucket", "", "bucket for a relative s3 destination", "AWS_S3_BUCKET")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("one destination, got %d arguments", len(pos))
	}
	arg := env.Getenv("ETCD_DUMP_FILENAME")
	if len(pos) == 1 {
		arg = pos[0]
	}
	if arg == "" {
		arg = "-"
	}
	dst, err := backup.ParseLocation(arg, false, env.Now())
	if err != nil {
		return usageError{err}
	}
	cfg, err := conn.config(env, f)
	if err != nil {
		return err
	}
	if env.check != nil {
		return env.check.dump(env, conn, key, dst)
	}
	log := newLogger(env.Stderr, env.Getenv)
	members, errs := cfg.Healthy(ctx)
	if len(members) == 0 {
		return fmt.Errorf("no healthy etcd member: %w", errors.Join(errs...))
	}
	cli, err := cfg.Connect(ctx, members[0].Endpoint)
	if err != nil {
		return err
	}
	defer cli.Close()
	write := func(w io.Writer) (dump.Stats, error) {
		st, err := dump.Dump(ctx, cli, key, 1000, w)
		if err != nil {
			err = fmt.Errorf("etcd %s: %w", members[0].Endpoint, err)
		}
		return st, err
	}
	var st dump.Stats
	switch dst.Kind {
	case backup.Stdio:
		st, err = write(env.Stdout)
	case backup.File:
		st, err = writeFile(dst.Path, write)
	case backup.S3:
		var store backup.Store
		if store, err = s3f.store(env, f, log); err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func() {
			var werr error
			st, werr = write(pw)
			pw.CloseWithError(werr)
		}()
		_, err = store.Put(ctx, dst.Bucket, dst.Key, pr, map[string]string{backup.MetaFormat: dump.Format})
		pr.CloseWithError(err)
		if err != nil {
			err = fmt.Errorf("S3: %w", err)
		}
	}
	if err != nil {
		return err
	}
	log.Info("dump written", "destination", dst.String(), "keys", st.Keys, "revision", st.Revision, "prefix", key)
	return nil
}

// writeFile writes through a temporary file beside path, renamed only on success.
func writeFile(path string, write func(io.Writer) (dump.Stats, error)) (dump.Stats, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return dump.Stats{}, err
	}
	st, err := write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return st, err
}

func runLoad(ctx context.Context, args []string, env Env) error {
	f := newFlags("load", "load [flags] [SRC]", env)
	var conn connFlags
	var s3f s3Flags
	var overwrite bool
	var tmp string
	conn.define(f)
	s3f.define(f)
	f.boolean(&overwrite, "overwrite", "replace keys that already exist", "ETCD_BACKUP_OVERWRITE")
	f.str(&tmp, "tmp-dir", os.TempDir(), "where an S3 dump is downloaded (and checked) before it is loaded", "ETCD_BACKUP_TMPDIR")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("one source, got %d arguments", len(pos))
	}
	arg := env.Getenv("ETCD_DUMP_FILENAME")
	if len(pos) == 1 {
		arg = pos[0]
	}
	if arg == "" {
		arg = "-"
	}
	src, err := backup.ParseLocation(arg, false, env.Now())
	if err != nil {
		return usageError{err}
	}
	cfg, err := conn.config(env, f)
	if err != nil {
		return err
	}
	var r io.Reader
	switch src.Kind {
	case backup.Stdio:
		r = env.Stdin
	case backup.File:
		fh, err := os.Open(src.Path)
		if err != nil {
			return err
		}
		defer fh.Close()
		r = fh
	case backup.S3:
		store, err := s3f.store(env, f, newLogger(env.Stderr, env.Getenv))
		if err != nil {
			return err
		}
		fh, err := os.CreateTemp(tmp, ".etcd-backup-dump-*.json")
		if err != nil {
			return err
		}
		defer os.Remove(fh.Name())
		defer fh.Close()
		if _, err := store.Get(ctx, src.Bucket, src.Key, fh); err != nil {
			return fmt.Errorf("S3: %w", err)
		}
		if _, err := fh.Seek(0, io.SeekStart); err != nil {
			return err
		}
		r = fh
	}
	members, errs := cfg.Healthy(ctx)
	if len(members) == 0 {
		return fmt.Errorf("no healthy etcd member: %w", errors.Join(errs...))
	}
	cli, err := cfg.Connect(ctx, members[0].Endpoint)
	if err != nil {
		return err
	}
	defer cli.Close()
	st, err := dump.Load(ctx, cli, r, overwrite, 100)
	if err != nil {
		return fmt.Errorf("etcd %s: load %s: %w", members[0].Endpoint, src, err)
	}
	newLogger(env.Stderr, env.Getenv).Info("dump loaded", "source", src.String(), "keys", st.Keys, "revision", st.Revision)
	return nil
}

func runPrune(ctx context.Context, args []string, env Env) error {
	f := newFlags("prune", "prune [flags] [s3://bucket/prefix/]", env)
	var s3f s3Flags
	var bucket, prefix, keepLast, keepWithin, minKeep string
	o := backup.PruneOptions{Now: env.Now()}
	s3f.define(f)
	f.str(&bucket, "bucket", "", "bucket when no URL is given", "AWS_S3_BUCKET")
	f.str(&prefix, "prefix", "etcd-backup/", "the prefix save writes under; nothing else is touched", "ETCD_BACKUP_PREFIX")
	f.str(&keepLast, "keep-last", "0", "keep the newest N backups", "ETCD_BACKUP_KEEP_LAST", "ETCD_KEEP_LAST")
	f.str(&keepWithin, "keep-within", "0", "keep backups younger than this (such as 36h, 7d)", "ETCD_BACKUP_KEEP_WITHIN")
	f.str(&minKeep, "min-keep", "1", "always keep at least this many verified backups (at least 1)", "ETCD_BACKUP_MIN_KEEP", "ETCD_MIN_KEEP")
	f.boolean(&o.DryRun, "dry-run", "list what would be deleted, delete nothing", "ETCD_BACKUP_DRY_RUN")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	switch len(pos) {
	case 0:
		if bucket == "" {
			return usagef("no bucket: give s3://bucket/prefix/ or set AWS_S3_BUCKET")
		}
		o.Bucket, o.Prefix = bucket, strings.TrimPrefix(prefix, "/")
		if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
			o.Prefix += "/"
		}
	case 1:
		rest, ok := strings.CutPrefix(pos[0], "s3://")
		if !ok {
			return usagef("%s: prune works on s3://bucket/prefix/", pos[0])
		}
		o.Bucket, o.Prefix, _ = strings.Cut(rest, "/")
		if o.Bucket == "" || (o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/")) {
			return usagef("%s: want s3://bucket/ or s3://bucket/prefix/ (ending in /)", pos[0])
		}
	default:
		return usagef("one s3://bucket/prefix/, got %d arguments", len(pos))
	}
	if o.KeepLast, err = strconv.Atoi(keepLast); err != nil {
		return usagef("%s %q: not a number", f.origin("keep-last"), keepLast)
	}
	if o.KeepWithin, err = parseDuration(keepWithin); err != nil {
		return usagef("%s: %v", f.origin("keep-within"), err)
	}
	if o.MinKeep, err = strconv.Atoi(minKeep); err != nil {
		return usagef("%s %q: not a number", f.origin("min-keep"), minKeep)
	}
	if err := o.Validate(); err != nil {
		return usageError{err}
	}
	store, err := s3f.store(env, f, newLogger(env.Stderr, env.Getenv))
	if err != nil {
		return err
	}
	if env.check != nil {
		return env.check.prune(o)
	}
	plan, err := backup.Prune(ctx, store, o)
	for _, d := range plan {
		verb := "keep"
		if !d.Keep {
			verb = "delete"
			if o.DryRun {
				verb = "would delete"
			}
		}
		v := "verified"
		if !d.Verified {
			v = "unverified"
		}
		fmt.Fprintf(env.Stdout, "%s s3://%s/%s (%s, %s)\n", verb, o.Bucket, d.Key, v, d.Why)
	}
	return err
}
