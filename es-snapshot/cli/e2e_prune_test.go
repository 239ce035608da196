package cli_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cronbox/testkit/opensearchtest"
)

// redIndex creates an index whose primary can never be allocated, so a
// snapshot of it is PARTIAL (with --partial) or refused.
func redIndex(t *testing.T, n *opensearchtest.Node, name string) {
	t.Helper()
	body := map[string]any{"settings": map[string]any{
		"number_of_shards": 1, "number_of_replicas": 0,
		"index.routing.allocation.require._name": "no-such-node",
	}}
	mustJSON(t, n, http.MethodPut, "/"+name+"?wait_for_active_shards=0", body, nil)
	t.Cleanup(func() { _, _, _ = n.Do(context.Background(), http.MethodDelete, "/"+name, nil) })
}

// PARTIAL is a failure (exit 1, naming the shard and the reason), and
// prune with min-keep never deletes the last SUCCESS snapshot.
func TestPartialFailsAndPruneKeepsLastGood(t *testing.T) {
	eachNode(t, func(t *testing.T, n *opensearchtest.Node) {
		if err := n.IndexDocs(ctx(t), "keep-ok", 10); err != nil {
			t.Fatal(err)
		}
		redIndex(t, n, "keep-red")
		env := map[string]string{
			"ES_HOST_URL": n.URL, "ES_REPOSITORY": "keep", "ES_SNAPSHOTNAME": "keep", "ES_TIMEOUT": "1m",
		}
		if r := tool(t, env, "repo", "ensure", "--type", "fs", "--location", filepath.Join(n.Repo, "keep")); r.code != 0 {
			t.Fatalf("repo ensure: %s", r)
		}
		// Someone else's snapshot in the same repository: never ours to prune.
		mustJSON(t, n, http.MethodPut, "/_snapshot/keep/manual-one?wait_for_completion=true", map[string]any{"indices": "keep-ok"}, nil)

		r := tool(t, env, "create", "--indices", "keep-ok")
		if r.code != 0 {
			t.Fatalf("create: %s", r)
		}
		t1 := time.Now()
		good1 := strings.TrimSpace(r.stdout)

		nextSecond(t, t1)
		r = tool(t, env, "create", "--indices", "keep-ok,keep-red", "--partial")
		if r.code != 1 {
			t.Fatalf("a PARTIAL snapshot did not exit 1: %s", r)
		}
		t2 := time.Now()
		for _, want := range []string{"PARTIAL", "1 of 2 shards failed", "keep-red[0]: primary shard is not allocated"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r)
			}
		}
		nextSecond(t, t2)
		r = tool(t, env, "create", "--indices", "keep-ok,keep-red")
		if r.code != 1 || !strings.Contains(r.stderr, "snapshot_exception") || !strings.Contains(r.stderr, "primary shards") {
			t.Errorf("a snapshot of a red index without --partial: %s", r)
		}

		// Everything of ours is older than 1ms; min-keep 1 still keeps the
		// last SUCCESS one although a newer (PARTIAL) snapshot exists.
		if r := tool(t, env, "prune", "--max-age", "1ms", "--min-keep", "0"); r.code != 2 {
			t.Errorf("--min-keep 0: %s", r)
		}
		r = tool(t, env, "prune", "--max-age", "1ms", "--dry-run")
		if r.code != 0 || len(snapshots(t, n, "keep")) != 3 {
			t.Fatalf("dry run: %s; left %v", r, names(snapshots(t, n, "keep")))
		}
		r = tool(t, env, "prune", "--max-age", "1ms")
		if r.code != 0 {
			t.Fatalf("prune: %s", r)
		}
		snaps := snapshots(t, n, "keep")
		if _, ok := snaps[good1]; !ok || len(snaps) != 2 {
			t.Fatalf("after prune: %v; want %s and manual-one", names(snaps), good1)
		}
		if _, ok := snaps["manual-one"]; !ok {
			t.Fatalf("prune deleted someone else's snapshot: %v", names(snaps))
		}

		// Newer good snapshots: now the old ones may go, the newest stays.
		nextSecond(t, time.Now())
		r = tool(t, env, "create", "--indices", "keep-ok")
		if r.code != 0 {
			t.Fatalf("create: %s", r)
		}
		good2 := strings.TrimSpace(r.stdout)
		nextSecond(t, time.Now())
		r = tool(t, env, "create", "--indices", "keep-ok")
		if r.code != 0 {
			t.Fatalf("create: %s", r)
		}
		good3 := strings.TrimSpace(r.stdout)
		// Tiers (issue 15): the dry run prints the plan with why each is kept.
		r = tool(t, env, "prune", "--keep-last", "2", "--keep-daily", "1", "--dry-run")
		if r.code != 0 || len(snapshots(t, n, "keep")) != 4 {
			t.Fatalf("tiered dry run: %s; left %v", r, names(snapshots(t, n, "keep")))
		}
		day := time.Now().UTC().Format("2006-01-02")
		for _, want := range []string{
			"would keep " + good3 + " (one of the newest 1 good snapshots (min-keep); last; daily " + day + ")",
			"would keep " + good2 + " (last)",
			"would delete " + good1 + " (kept by no tier (last 2, daily 1))",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("the dry run's plan lacks %q:\n%s", want, r.stderr)
			}
		}
		r = tool(t, env, "prune", "--max-age", "1ms", "--min-keep", "1", "--verbose")
		if r.code != 0 {
			t.Fatalf("prune: %s", r)
		}
		// Both old ones go in one DELETE (both servers take several names).
		var deletes []string
		for _, line := range strings.Split(r.stderr, "\n") {
			if strings.Contains(line, "call=\"DELETE ") {
				deletes = append(deletes, line)
			}
		}
		if len(deletes) != 1 || !strings.Contains(deletes[0], good1+","+good2) && !strings.Contains(deletes[0], good2+","+good1) {
			t.Errorf("want one DELETE of %s and %s, got %q", good1, good2, deletes)
		}
		snaps = snapshots(t, n, "keep")
		if _, ok := snaps[good3]; !ok || len(snaps) != 2 {
			t.Fatalf("after the second prune: %v; want %s and manual-one", names(snaps), good3)
		}
	})
}
