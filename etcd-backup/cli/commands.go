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
	"time"

	"cronbox/codec"
	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/dump"
	"cronbox/etcd-backup/incremental"
)

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

func runSave(ctx context.Context, args []string, env Env) error {
	f := newFlags("save", "save [flags] [DEST]", env)
	var conn connFlags
	var s3f s3Flags
	var cf codecFlags
	var lf lockFlags
	var bucket, prefix, progress, timeout, rate string
	conn.define(f)
	s3f.define(f)
	cf.define(f, "snapshot")
	lf.define(f)
	f.str(&bucket, "bucket", "", "bucket used when DEST is omitted", "AWS_S3_BUCKET")
	f.str(&prefix, "prefix", "etcd-backup/", "key prefix (a folder) for timestamped backup names: PREFIX/YYYYMMDDTHHMMSS.mmmZ.db[.zst|.gz][.age]", "ETCD_BACKUP_PREFIX")
	f.str(&progress, "progress", "10s", "interval of progress lines on long saves", "ETCD_BACKUP_PROGRESS")
	f.str(&timeout, "save-timeout", "1h", "deadline of the whole snapshot transfer", "ETCD_BACKUP_SAVE_TIMEOUT")
	f.str(&rate, "rate-limit", "0", "read the snapshot at most this fast, bytes per second (such as 50M); 0 = no limit", "ETCD_BACKUP_RATE_LIMIT")
	var inc incrFlags
	inc.define(f)
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
	if arg, err = s3Target(arg, bucket, prefix, f.origin("prefix")); err != nil {
		return err
	}
	if err := inc.read(f); err != nil {
		return err
	}
	var incBucket, incPrefix string
	if inc.on {
		if incBucket, incPrefix, err = incrementalTarget(arg); err != nil {
			return err
		}
	}
	log := newLogger(env.Stderr, env.Getenv)
	codecOpts, err := cf.options(env, f, log)
	if err != nil {
		return err
	}
	layers := codecOpts.Layers()
	dst, err := backup.ParseLocation(arg, backup.BackupName(env.Now(), layers))
	if err != nil {
		return usageError{err}
	}
	if dst.Kind != backup.Stdio && !strings.HasSuffix(dst.String(), layers.Suffix()) {
		log.Warn("the destination's name does not say how it is stored: stock tools go by the suffix", "destination", dst.String(), "suffix", layers.Suffix())
	}
	cfg, err := conn.config(env, f)
	if err != nil {
		return err
	}
	s := &backup.Saver{Log: log, Conn: cfg, Stdout: env.Stdout, Now: env.Now, Codec: codecOpts}
	if s.Progress, err = parseDuration(progress); err != nil {
		return usagef("%s: %v", f.origin("progress"), err)
	}
	if s.Timeout, err = parseDuration(timeout); err != nil {
		return usagef("%s: %v", f.origin("save-timeout"), err)
	}
	if s.RateLimit, err = parseSize(rate); err != nil {
		return usagef("%s: %v", f.origin("rate-limit"), err)
	}
	if s.LockMode, s.LockRetain, err = lf.parse(f); err != nil {
		return err
	}
	if s.LockMode != "" && dst.Kind != backup.S3 {
		return usagef("%s: an object lock needs an S3 destination, not %s", f.origin("object-lock-mode"), dst)
	}
	if dst.Kind == backup.S3 {
		if s.Store, err = s3f.store(env, f, s.Log); err != nil {
			return err
		}
	}
	if env.check != nil {
		if inc.on {
			return env.check.incremental(env, conn, s, "s3://"+incBucket+"/"+incPrefix, inc.describe())
		}
		return env.check.save(env, conn, s, dst)
	}
	if s.LockMode != "" {
		// Refused before the snapshot starts: a bucket without object lock
		// would refuse every run the same way.
		if st, ok := s.Store.(backup.S3Store); ok {
			if err := st.CheckObjectLock(ctx, dst.Bucket); err != nil {
				return usagef("%s %s: %v", f.origin("object-lock-mode"), s.LockMode, err)
			}
		}
	}
	if inc.on {
		return runIncrementalSave(ctx, env, s, &inc, incBucket, incPrefix)
	}
	res, err := s.Save(ctx, dst)
	if err != nil {
		return err
	}
	locked := "not object-locked"
	if res.LockedUntil != nil {
		locked = fmt.Sprintf("object-locked (%s) until %s", res.LockMode, res.LockedUntil.Format(time.RFC3339))
	}
	fmt.Fprintf(env.Stderr, "etcd-backup save: %s: %s, %s\n", res.Dest, describeLayers(layers), locked)
	reportSave(env, s.Log, res)
	out := env.Stdout
	if dst.Kind == backup.Stdio {
		out = env.Stderr
	}
	printJSON(out, res)
	return nil
}

// fetcher builds what verify, restore and load read sources with.
func fetcher(src backup.Location, s3f *s3Flags, kf *keyFlags, env Env, f *flags) (*backup.Fetcher, error) {
	ids, err := kf.identities(env, f, newLogger(env.Stderr, env.Getenv))
	if err != nil {
		return nil, err
	}
	fe := &backup.Fetcher{Stdin: env.Stdin, Identities: ids}
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
	l, err := backup.ParseLocation(pos[0], "")
	if err != nil {
		return l, usageError{err}
	}
	return l, nil
}

func runVerify(ctx context.Context, args []string, env Env) error {
	f := newFlags("verify", "verify [flags] SRC", env)
	var s3f s3Flags
	var kf keyFlags
	var tmp, format string
	s3f.define(f)
	kf.define(f)
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
	fe, err := fetcher(src, &s3f, &kf, env, f)
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
	printVerify(env.Stdout, res)
	return nil
}

// printVerify is verify's human output: what was checked, then etcdctl's
// status table (with live keys and bolt entries apart, see VerifyResult).
func printVerify(w io.Writer, res backup.VerifyResult) {
	recorded := "none recorded"
	switch {
	case res.Recorded != "":
		recorded = "matches the recorded one"
	case res.Checksum != "":
		recorded = "the object matches its stored " + strings.Fields(res.Checksum)[0]
	}
	stored := codec.Layers{Compression: codec.Compression(res.Compression), Encrypted: res.Encrypted, Recipients: res.Recipients}
	fmt.Fprintf(w, "%s: %d bytes stored, %s; sha256 %s (%s)\n", res.Source, res.StoredSize, describeLayers(stored), res.SHA256, recorded)
	if !res.ContentsChecked {
		fmt.Fprintf(w, "contents NOT checked: encrypted, and no identity given (--identity, ETCD_BACKUP_IDENTITY_FILE, or the passphrase); only the stored bytes' sha256 was checked\n")
		return
	}
	fmt.Fprintf(w, "snapshot trailer sha256 %s ok\n", res.DBSHA256)
	cluster := res.Metadata[backup.MetaCluster]
	switch {
	case res.Metadata == nil:
		cluster = "no metadata (a file or stdin)"
	case cluster == "":
		cluster = "not recorded (saved by an earlier version from an etcd before 3.6)"
	}
	fmt.Fprintf(w, "cluster id: %s\n", cluster)
	fmt.Fprintf(w, "HASH, REVISION, KEYS, BOLT ENTRIES, TOTAL SIZE, VERSION\n%x, %d, %d, %d, %d, %s\n", res.Hash, res.Revision, res.Keys, res.BoltEntries, res.DBSize, res.Version)
}

func runRestore(ctx context.Context, args []string, env Env) error {
	f := newFlags("restore", "restore [flags] SRC --data-dir DIR  (SRC s3://bucket/prefix/ with --to-revision R or --to-time T: a point in time of a chain)", env)
	var s3f s3Flags
	var kf keyFlags
	var o backup.RestoreOptions
	var peers, bump string
	s3f.define(f)
	kf.define(f)
	f.str(&o.DataDir, "data-dir", "", "new data dir to restore into (must not exist)", "ETCD_BACKUP_DATA_DIR")
	f.str(&o.WALDir, "wal-dir", "", "separate WAL dir (default DATA_DIR/member/wal)", "ETCD_BACKUP_WAL_DIR")
	f.str(&o.Name, "name", "default", "member name of the restored member", "ETCD_NAME")
	f.str(&o.InitialCluster, "initial-cluster", "", "initial cluster of the restored cluster (default NAME=first peer URL)", "ETCD_INITIAL_CLUSTER")
	f.str(&o.InitialClusterToken, "initial-cluster-token", "etcd-cluster", "initial cluster token", "ETCD_INITIAL_CLUSTER_TOKEN")
	f.str(&peers, "initial-advertise-peer-urls", "http://localhost:2380", "the restored member's peer URLs", "ETCD_INITIAL_ADVERTISE_PEER_URLS")
	f.str(&bump, "bump-revision", "0", "add this much to the revision after restore (Kubernetes restores; needs --mark-compacted)", "ETCD_BACKUP_BUMP_REVISION")
	f.boolean(&o.MarkCompacted, "mark-compacted", "mark the restored revision compacted (needs --bump-revision)", "ETCD_BACKUP_MARK_COMPACTED")
	var pitr pitrFlags
	pitr.define(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	chainSrc, err := pitr.source(pos, f)
	if err != nil {
		return err
	}
	var src backup.Location
	if chainSrc == nil {
		if src, err = oneSource(pos, "source", env); err != nil {
			return err
		}
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
	if chainSrc != nil {
		return runChainRestore(ctx, env, f, &s3f, &kf, chainSrc, o)
	}
	fe, err := fetcher(src, &s3f, &kf, env, f)
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
	var cf codecFlags
	var key, bucket string
	conn.define(f)
	s3f.define(f)
	cf.define(f, "dump")
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
	dst, err := backup.ParseLocation(arg, "")
	if err != nil {
		return usageError{err}
	}
	log := newLogger(env.Stderr, env.Getenv)
	codecOpts, err := cf.options(env, f, log)
	if err != nil {
		return err
	}
	layers := codecOpts.Layers()
	if dst.Kind != backup.Stdio && !strings.HasSuffix(dst.String(), layers.Suffix()) {
		log.Warn("the destination's name does not say how it is stored: stock tools go by the suffix", "destination", dst.String(), "suffix", layers.Suffix())
	}
	cfg, err := conn.config(env, f)
	if err != nil {
		return err
	}
	var store backup.Store
	if dst.Kind == backup.S3 {
		if store, err = s3f.store(env, f, log); err != nil {
			return err
		}
	}
	if env.check != nil {
		return env.check.dump(env, conn, key, dst)
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
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	write := func(w io.Writer) (dump.Stats, error) {
		cw, err := codec.NewWriter(w, codecOpts)
		if err != nil {
			return dump.Stats{}, err
		}
		st, err := dump.Dump(dctx, cli, key, 1000, cw)
		if err != nil {
			return st, fmt.Errorf("etcd %s: %w", members[0].Endpoint, err)
		}
		return st, cw.Close()
	}
	var st dump.Stats
	switch dst.Kind {
	case backup.Stdio:
		st, err = write(env.Stdout)
	case backup.File:
		st, err = writeFile(dst.Path, write)
	case backup.S3:
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			var werr error
			st, werr = write(pw)
			pw.CloseWithError(werr)
		}()
		meta := map[string]string{backup.MetaFormat: dump.Format}
		for k, v := range layers.Metadata() {
			meta[k] = v
		}
		_, err = store.Put(dctx, dst.Bucket, dst.Key, pr, backup.PutOptions{Metadata: meta, ContentType: layers.ContentType(backup.ContentTypeDump)})
		// The writer goroutine owns st until it has returned: stop it (a
		// failed upload may return while it still reads etcd) and wait.
		if err != nil {
			cancel()
		}
		pr.CloseWithError(err)
		<-done
		if err != nil {
			err = fmt.Errorf("S3: %w", err)
		}
	}
	if err != nil {
		return err
	}
	log.Info("dump written", "destination", dst.String(), "keys", st.Keys, "revision", st.Revision, "prefix", key,
		"compression", string(layers.Compression), "encrypted", layers.Encrypted)
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
	var kf keyFlags
	var overwrite bool
	var tmp string
	conn.define(f)
	s3f.define(f)
	kf.define(f)
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
	src, err := backup.ParseLocation(arg, "")
	if err != nil {
		return usageError{err}
	}
	cfg, err := conn.config(env, f)
	if err != nil {
		return err
	}
	log := newLogger(env.Stderr, env.Getenv)
	ids, err := kf.identities(env, f, log)
	if err != nil {
		return err
	}
	var r io.Reader
	var expect *codec.Layers
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
		store, err := s3f.store(env, f, log)
		if err != nil {
			return err
		}
		fh, err := os.CreateTemp(tmp, ".etcd-backup-dump-*.json")
		if err != nil {
			return err
		}
		defer os.Remove(fh.Name())
		defer fh.Close()
		obj, err := store.Get(ctx, src.Bucket, src.Key, fh)
		if err != nil {
			return fmt.Errorf("S3: %w", err)
		}
		if l, ok, err := codec.FromMetadata(obj.Metadata); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		} else if ok {
			expect = &l
		}
		if _, err := fh.Seek(0, io.SeekStart); err != nil {
			return err
		}
		r = fh
	}
	dec, err := codec.NewReader(r, codec.ReadOptions{Identities: ids, Expect: expect})
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	defer dec.Close()
	members, errs := cfg.Healthy(ctx)
	if len(members) == 0 {
		return fmt.Errorf("no healthy etcd member: %w", errors.Join(errs...))
	}
	cli, err := cfg.Connect(ctx, members[0].Endpoint)
	if err != nil {
		return err
	}
	defer cli.Close()
	st, err := dump.Load(ctx, cli, dec, overwrite, 100)
	if err != nil {
		return fmt.Errorf("etcd %s: load %s: %w", members[0].Endpoint, src, err)
	}
	log.Info("dump loaded", "source", src.String(), "keys", st.Keys, "revision", st.Revision, "stored", dec.Layers().String())
	return nil
}

func runPrune(ctx context.Context, args []string, env Env) error {
	f := newFlags("prune", "prune [flags] [s3://bucket/prefix/]", env)
	var s3f s3Flags
	var bucket, prefix, keepWithin, minKeep string
	tiers := map[string]*string{}
	o := backup.PruneOptions{Now: env.Now()}
	s3f.define(f)
	f.str(&bucket, "bucket", "", "bucket when no URL is given", "AWS_S3_BUCKET")
	f.str(&prefix, "prefix", "etcd-backup/", "the prefix (a folder) save writes under; nothing else is touched", "ETCD_BACKUP_PREFIX")
	for _, t := range []struct{ name, help string }{
		{"last", "keep the newest N backups"},
		{"hourly", "keep the newest backup of each of the last N hours that have one (-1: every hour)"},
		{"daily", "keep the newest backup of each of the last N days that have one (-1: every day)"},
		{"weekly", "keep the newest backup of each of the last N ISO weeks that have one (-1: every week)"},
		{"monthly", "keep the newest backup of each of the last N months that have one (-1: every month)"},
		{"yearly", "keep the newest backup of each of the last N years that have one (-1: every year)"},
	} {
		v := new(string)
		tiers[t.name] = v
		envs := []string{"ETCD_BACKUP_KEEP_" + strings.ToUpper(t.name)}
		if t.name == "last" {
			envs = append(envs, "ETCD_KEEP_LAST")
		}
		f.str(v, "keep-"+t.name, "0", t.help+" (UTC)", envs...)
	}
	f.str(&keepWithin, "keep-within", "0", "keep backups younger than this (such as 36h, 7d)", "ETCD_BACKUP_KEEP_WITHIN")
	f.str(&minKeep, "min-keep", "1", "always keep at least this many verified backups (at least 1): the newest verified backup is never deleted", "ETCD_BACKUP_MIN_KEEP", "ETCD_MIN_KEEP")
	f.boolean(&o.DryRun, "dry-run", "print the plan (what is kept and why), delete nothing", "ETCD_BACKUP_DRY_RUN")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	switch len(pos) {
	case 0:
		if bucket == "" {
			return usagef("no bucket: give s3://bucket/prefix/ or set AWS_S3_BUCKET")
		}
		if err := backup.CheckPrefix(prefix); err != nil {
			return usagef("%s: %v", f.origin("prefix"), err)
		}
		o.Bucket, o.Prefix = bucket, backup.NormalizePrefix(prefix)
	case 1:
		rest, ok := strings.CutPrefix(pos[0], "s3://")
		if !ok {
			return usagef("%s: prune works on s3://bucket/prefix/", pos[0])
		}
		o.Bucket, o.Prefix, _ = strings.Cut(rest, "/")
		if o.Bucket == "" {
			return usagef("%s: want s3://bucket/ or s3://bucket/prefix/", pos[0])
		}
		if err := backup.CheckPrefix(o.Prefix); err != nil {
			return usagef("%s: %v", pos[0], err)
		}
		// The prefix is a folder, as save reads it (a missing "/" is added).
		o.Prefix = backup.NormalizePrefix(o.Prefix)
	default:
		return usagef("one s3://bucket/prefix/, got %d arguments", len(pos))
	}
	counts := map[string]*int{"last": &o.Tiers.Last, "hourly": &o.Tiers.Hourly, "daily": &o.Tiers.Daily,
		"weekly": &o.Tiers.Weekly, "monthly": &o.Tiers.Monthly, "yearly": &o.Tiers.Yearly}
	for name, v := range tiers {
		n, err := strconv.Atoi(strings.TrimSpace(*v))
		switch {
		case name == "last" && (err != nil || n < 0):
			return usagef("%s %q: want a count (to keep every backup, do not prune)", f.origin("keep-last"), *v)
		case err != nil || n < -1:
			return usagef("%s %q: want a count (or -1: no limit)", f.origin("keep-"+name), *v)
		}
		*counts[name] = n
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
	if chains, err := incremental.HasDeltas(ctx, store, o.Bucket, o.Prefix); err != nil || chains {
		if err != nil {
			return err
		}
		return pruneChains(ctx, env, store, o)
	}
	plan, err := backup.Prune(ctx, store, o)
	printPlan(env.Stdout, o, plan)
	return err
}

// printPlan prints one line per backup: what happens to it and why.
func printPlan(w io.Writer, o backup.PruneOptions, plan []backup.Decision) {
	kept := 0
	for _, d := range plan {
		verb := "keep"
		if d.Keep {
			kept++
		} else {
			verb = "delete"
			if o.DryRun {
				verb = "would delete"
			}
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
