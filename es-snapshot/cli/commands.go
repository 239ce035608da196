package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"cronbox/es-snapshot/esclient"
	"cronbox/es-snapshot/snapshot"
)

func cmdRepoEnsure(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("repo ensure", env, "repo ensure [flags]")
	var c conn
	fs.connFlags(&c, 5*time.Minute)
	var repo, typ, bucket, basePath, client, location, raw string
	fs.repoFlag(&repo)
	fs.str(&typ, "type", "s3", "repository type: s3, fs, or any other with --settings", "ES_REPOSITORY_TYPE")
	fs.str(&bucket, "bucket", "", "s3: the bucket", "AWS_S3_BUCKET")
	fs.str(&basePath, "base-path", "", "s3: the key prefix inside the bucket", "ES_S3_BASE_PATH")
	fs.str(&client, "client", "", `s3: the node's S3 client (s3.client.NAME.* settings, credentials in the node keystore); the server's default is "default"`, "ES_S3_CLIENT")
	fs.str(&location, "location", "", "fs: the directory, under the node's path.repo", "ES_FS_LOCATION")
	fs.str(&raw, "settings", "", `repository settings as a JSON object, merged over the above (e.g. {"compress":true})`, "ES_REPOSITORY_SETTINGS")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := needRepo(repo); err != nil {
		return err
	}
	settings := map[string]any{}
	switch typ {
	case "s3":
		if bucket != "" {
			settings["bucket"] = bucket
		}
		if basePath != "" {
			settings["base_path"] = basePath
		}
		if client != "" {
			settings["client"] = client
		}
	case "fs":
		if location != "" {
			settings["location"] = location
		}
	case "":
		return usagef("--type is empty")
	}
	if raw != "" {
		var extra map[string]any
		if err := json.Unmarshal([]byte(raw), &extra); err != nil {
			return usagef("--settings / ES_REPOSITORY_SETTINGS: not a JSON object: %v", err)
		}
		for k, v := range extra {
			settings[k] = v
		}
	}
	switch {
	case typ == "s3" && settings["bucket"] == nil:
		return usagef("an s3 repository needs a bucket: set --bucket or AWS_S3_BUCKET")
	case typ == "fs" && settings["location"] == nil:
		return usagef("an fs repository needs a location: set --location or ES_FS_LOCATION")
	case typ != "s3" && typ != "fs" && len(settings) == 0:
		return usagef("a %s repository needs its settings: set --settings or ES_REPOSITORY_SETTINGS", typ)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := c.client(ctx, env)
	if err != nil {
		return err
	}
	if typ == "s3" && env.Getenv("AWS_S3_REGION") != "" {
		// The original job sent region; Elasticsearch 6 removed that setting
		// and refuses it. The node's S3 client settings carry the endpoint.
		r.Log.Info("AWS_S3_REGION is not sent: S3 repositories take region and endpoint from the node's s3.client.* settings")
	}
	_, err = r.EnsureRepo(ctx, repo, esclient.Repository{Type: typ, Settings: settings})
	return err
}

func cmdCreate(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("create", env, "create [flags]")
	var c conn
	fs.connFlags(&c, time.Hour)
	var repo, indices string
	var n naming
	var global, partial, ignoreUnavailable bool
	fs.repoFlag(&repo)
	fs.namingFlags(&n)
	fs.str(&indices, "indices", "", "indices to snapshot, comma-separated, wildcards allowed (default: all)", "ES_INDICES")
	fs.boolean(&global, "include-global-state", true, "include the cluster state (templates, persistent settings)", "ES_INCLUDE_GLOBAL_STATE")
	fs.boolean(&partial, "partial", false, "start even if some primaries are unavailable (the result is PARTIAL and still exits 1)", "ES_PARTIAL")
	fs.boolean(&ignoreUnavailable, "ignore-unavailable", false, "skip named indices that do not exist", "ES_IGNORE_UNAVAILABLE")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := needRepo(repo); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("create: unexpected argument %q", fs.Arg(0))
	}
	namer, err := n.namer()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := c.client(ctx, env)
	if err != nil {
		return err
	}
	name := namer.Name(time.Now())
	s, err := r.Create(ctx, repo, name, esclient.CreateRequest{
		Indices: indices, IgnoreUnavailable: ignoreUnavailable, IncludeGlobalState: global, Partial: partial,
		Metadata: map[string]any{"taken_by": "cronbox es-snapshot " + Version},
	})
	if err != nil {
		return err
	}
	reportCreate(env, r.Log, repo, s, r.Version)
	fmt.Fprintln(env.Stdout, s.Name)
	return nil
}

func cmdList(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("list", env, "list [flags]")
	var c conn
	fs.connFlags(&c, 2*time.Minute)
	var repo string
	fs.repoFlag(&repo)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := needRepo(repo); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := c.client(ctx, env)
	if err != nil {
		return err
	}
	snaps, err := r.Client.ListSnapshots(ctx, repo, r.Version.IndexDetails())
	if err != nil {
		return fmt.Errorf("list snapshots in repository %s: %w", repo, err)
	}
	sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].StartTimeMillis < snaps[j].StartTimeMillis })
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tSTART (UTC)\tDURATION\tSIZE\tSHARDS\tFAILED")
	now := time.Now()
	for _, s := range snaps {
		start, size := "-", "-"
		if !s.Start().IsZero() {
			start = s.Start().Format(time.RFC3339)
		}
		if b := s.Size(); b >= 0 {
			size = snapshot.HumanBytes(b)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", s.Name, s.State, start,
			s.Duration(now).Round(time.Millisecond), size, s.Shards.Total, s.Shards.Failed)
	}
	return tw.Flush()
}

func cmdPrune(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("prune", env, "prune [flags]")
	var c conn
	fs.connFlags(&c, 30*time.Minute)
	var repo string
	var n naming
	var p snapshot.Policy
	var dryRun bool
	fs.repoFlag(&repo)
	fs.namingFlags(&n)
	fs.integer(&p.KeepLast, "keep-last", 0, "keep the newest N good snapshots, delete older ones (0: no count limit)", "ES_KEEP_LAST")
	for _, t := range []struct {
		name string
		n    *int
	}{{"hourly", &p.Tiers.Hourly}, {"daily", &p.Tiers.Daily}, {"weekly", &p.Tiers.Weekly}, {"monthly", &p.Tiers.Monthly}, {"yearly", &p.Tiers.Yearly}} {
		period := map[string]string{"hourly": "hour", "daily": "day", "weekly": "ISO week", "monthly": "month", "yearly": "year"}[t.name]
		fs.integer(t.n, "keep-"+t.name, 0, fmt.Sprintf("keep the newest good snapshot of each of the last N %ss that have one (UTC; -1: every %s)", period, period), "ES_KEEP_"+strings.ToUpper(t.name))
	}
	fs.duration(&p.MaxAge, "max-age", 0, true, "delete snapshots older than this, e.g. 30d or 12h (0: no age limit)", "ES_MAX_AGE")
	fs.integer(&p.MinKeep, "min-keep", 1, "never delete the newest N good snapshots, whatever the rules say (at least 1)", "ES_MIN_KEEP")
	fs.boolean(&dryRun, "dry-run", false, "print the plan (what is kept and why), delete nothing", "ES_DRY_RUN")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := needRepo(repo); err != nil {
		return err
	}
	if err := p.Check(); err != nil {
		return usagef("prune: %v", err)
	}
	namer, err := n.namer()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := c.client(ctx, env)
	if err != nil {
		return err
	}
	res, err := r.Prune(ctx, repo, namer, p, dryRun)
	for _, d := range res.Decisions {
		if d.Delete {
			fmt.Fprintln(env.Stdout, d.Snapshot.Name)
		}
	}
	return err
}

func cmdRestore(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("restore", env, "restore [flags] [SNAPSHOT]")
	var c conn
	fs.connFlags(&c, time.Hour)
	var repo, name string
	var n naming
	var req esclient.RestoreRequest
	var wait bool
	fs.repoFlag(&repo)
	fs.namingFlags(&n)
	fs.str(&name, "snapshot", "", "the snapshot to restore (default: the latest SUCCESS one named like --pattern)", "ES_RESTORE_SNAPSHOT")
	fs.str(&req.Indices, "indices", "", "indices to restore, comma-separated, wildcards allowed (default: all in the snapshot)", "ES_RESTORE_INDICES")
	fs.str(&req.RenamePattern, "rename-pattern", "", "regular expression on index names, e.g. (.+)", "ES_RESTORE_RENAME_PATTERN")
	fs.str(&req.RenameReplacement, "rename-replacement", "", "replacement, e.g. restored_$1", "ES_RESTORE_RENAME_REPLACEMENT")
	fs.boolean(&req.IncludeGlobalState, "include-global-state", false, "restore the cluster state too", "ES_RESTORE_INCLUDE_GLOBAL_STATE")
	fs.boolean(&req.IncludeAliases, "include-aliases", true, "restore the indices' aliases", "ES_RESTORE_INCLUDE_ALIASES")
	fs.boolean(&wait, "wait", false, "wait until the restore finished and fail if a shard did not come back", "ES_RESTORE_WAIT")
	// Flags may come before and after the snapshot's name.
	rest := args
	for {
		if err := fs.parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		if name != "" && name != fs.Arg(0) {
			return usagef("restore: two snapshots given (%q and %q)", name, fs.Arg(0))
		}
		name, rest = fs.Arg(0), fs.Args()[1:]
	}
	if err := needRepo(repo); err != nil {
		return err
	}
	if (req.RenamePattern == "") != (req.RenameReplacement == "") {
		return usagef("restore: --rename-pattern and --rename-replacement go together")
	}
	namer, err := n.namer()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := c.client(ctx, env)
	if err != nil {
		return err
	}
	res, err := r.Restore(ctx, repo, name, namer, req, wait)
	if err != nil {
		return err
	}
	if len(res.Indices) > 0 {
		fmt.Fprintln(env.Stdout, strings.Join(res.Indices, "\n"))
	}
	return nil
}

func cmdStatus(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("status", env, "status [flags]")
	var c conn
	fs.connFlags(&c, 2*time.Minute)
	var repo string
	fs.str(&repo, "repository", "", "only this repository (default: all)", "ES_REPOSITORY")
	if err := fs.parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := c.client(ctx, env)
	if err != nil {
		return err
	}
	st, err := r.Client.Status(ctx, repo)
	if err != nil {
		return fmt.Errorf("snapshot status: %w", err)
	}
	if len(st) == 0 {
		fmt.Fprintln(env.Stdout, "no snapshot is running")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREPOSITORY\tSTATE\tSHARDS DONE\tBYTES DONE")
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s/%s\n", s.Name, s.Repository, s.State,
			s.ShardStats.Done, s.ShardStats.Total, snapshot.HumanBytes(s.DoneBytes()), snapshot.HumanBytes(s.TotalBytes()))
	}
	return tw.Flush()
}
