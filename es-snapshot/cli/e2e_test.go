package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cronbox/es-snapshot/esclient"
	"cronbox/testkit"
	"cronbox/testkit/opensearchtest"
)

// These tests run the real es-snapshot binary (and scripts/es-backup in
// busybox sh) against real nodes: OpenSearch 2.19.6 and 3.9.0,
// Elasticsearch 7.10.2 and 7.17.29, each started once for the package.

var nodes []*opensearchtest.Node

func TestMain(m *testing.M) {
	flavors := opensearchtest.Flavors()
	started := make([]*opensearchtest.Node, len(flavors))
	errs := make([]error, len(flavors))
	var wg sync.WaitGroup
	for i, f := range flavors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started[i], errs[i] = opensearchtest.Start(opensearchtest.Options{Flavor: f})
		}()
	}
	wg.Wait()
	failed := false
	for i, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
		} else {
			nodes = append(nodes, started[i])
		}
	}
	code := 1
	if !failed {
		code = m.Run()
	}
	for _, n := range nodes {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "--- %s node log (tail):\n%s\n", n.Flavor, tail(n.Logs(), 4000))
		}
		n.Stop()
	}
	os.Exit(code)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// eachNode runs f against every node, one parallel subtest per flavour
// (each has its own node; most of a test's time is spent waiting on it).
func eachNode(t *testing.T, f func(t *testing.T, n *opensearchtest.Node)) {
	for _, n := range nodes {
		t.Run(string(n.Flavor), func(t *testing.T) {
			t.Parallel()
			f(t, n)
		})
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// binDir holds the built es-snapshot and nothing else: the script's PATH.
func binDir(t *testing.T) string {
	t.Helper()
	return filepath.Dir(testkit.Build(t, "cronbox/es-snapshot"))
}

// run runs argv with only env (plus PATH) in its environment and returns
// when it exits.
func run(t *testing.T, env map[string]string, argv ...string) result {
	t.Helper()
	cmd := command(t, env, argv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return r
}

func command(t *testing.T, env map[string]string, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + binDir(t)}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// tool runs es-snapshot; script runs scripts/es-backup in busybox sh.
func tool(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return run(t, env, append([]string{filepath.Join(binDir(t), "es-snapshot")}, args...)...)
}

func script(t *testing.T, env map[string]string) result {
	t.Helper()
	testkit.Need(t, "/bin/busybox")
	return run(t, env, "/bin/busybox", "sh", filepath.Join(testkit.RepoRoot(t), "scripts", "es-backup"))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustJSON(t *testing.T, n *opensearchtest.Node, method, path string, body, out any) {
	t.Helper()
	if err := n.JSON(ctx(t), method, path, body, out); err != nil {
		t.Fatal(err)
	}
}

// snapshots returns name -> state of the repository's snapshots.
func snapshots(t *testing.T, n *opensearchtest.Node, repo string) map[string]esclient.Snapshot {
	t.Helper()
	_, b, err := n.Do(ctx(t), http.MethodGet, "/_snapshot/"+repo+"/_all", nil)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := esclient.ParseSnapshots(b)
	if err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	out := map[string]esclient.Snapshot{}
	for _, s := range ss {
		out[s.Name] = s
	}
	return out
}

func names(m map[string]esclient.Snapshot) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// nextSecond waits until the clock has left the second of t0, so the next
// snapshot name (second resolution, like the original) differs.
func nextSecond(t *testing.T, t0 time.Time) {
	t.Helper()
	testkit.WaitFor(t, 2*time.Second, "the next second", func() error {
		if time.Now().UTC().Truncate(time.Second).After(t0.UTC().Truncate(time.Second)) {
			return nil
		}
		return testkit.ErrNotYet
	})
}

// recordingProxy forwards to the node and records each request's method,
// path and Content-Type: the node cannot tell us what we sent.
type recordingProxy struct {
	mu   sync.Mutex
	seen []string
}

func (p *recordingProxy) start(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The drill: 1,000 documents in 3 indices, es-backup through busybox sh
// (twice, so prune deletes the first), the indices deleted, restore, and the
// same counts back (also under new names).
func TestDrill(t *testing.T) {
	eachNode(t, func(t *testing.T, n *opensearchtest.Node) {
		counts := map[string]int{"drill-a": 334, "drill-b": 333, "drill-c": 333}
		for idx, c := range counts {
			if err := n.IndexDocs(ctx(t), idx, c); err != nil {
				t.Fatal(err)
			}
		}
		proxy := &recordingProxy{}
		env := map[string]string{
			"ES_HOST_URL":        proxy.start(t, n.URL),
			"ES_REPOSITORY":      "drill",
			"ES_REPOSITORY_TYPE": "fs",
			"ES_FS_LOCATION":     filepath.Join(n.Repo, "drill"),
			"ES_SNAPSHOTNAME":    "drill",
			"ES_INDICES":         "drill-*",
			"ES_KEEP_LAST":       "1",
		}
		r := script(t, env)
		if r.code != 0 {
			t.Fatalf("es-backup: %s", r)
		}
		first := time.Now() // the snapshot was named before this
		for _, want := range []string{"es-backup: 1/3", "es-backup: 2/3", "es-backup: 3/3", "es-backup: done"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r)
			}
		}
		if !strings.Contains(r.stderr, "registering (type fs)") || !strings.Contains(r.stderr, "SUCCESS") {
			t.Errorf("stderr lacks the progress lines:\n%s", r)
		}
		snaps := snapshots(t, n, "drill")
		if len(snaps) != 1 {
			t.Fatalf("after one run: snapshots %v", names(snaps))
		}
		var firstName string
		for name, s := range snaps {
			firstName = name
			if !s.Good() || s.Shards.Total != 3 {
				t.Fatalf("snapshot %s: %s, shards %+v", name, s.State, s.Shards)
			}
		}

		nextSecond(t, first)
		r = script(t, env)
		if r.code != 0 {
			t.Fatalf("second es-backup: %s", r)
		}
		if !strings.Contains(r.stderr, "registered as wanted") || !strings.Contains(r.stderr, "delete "+firstName) {
			t.Errorf("second run: no 'registered as wanted' or no delete of %s:\n%s", firstName, r)
		}
		snaps = snapshots(t, n, "drill")
		if _, ok := snaps[firstName]; ok || len(snaps) != 1 {
			t.Fatalf("keep-last 1 left %v", names(snaps))
		}

		// Every request carried Content-Type: application/json, deletes included.
		proxy.mu.Lock()
		seen := append([]string(nil), proxy.seen...)
		proxy.mu.Unlock()
		methods := map[string]bool{}
		for _, s := range seen {
			methods[strings.Fields(s)[0]] = true
			if !strings.HasSuffix(s, " application/json") {
				t.Errorf("request without Content-Type application/json: %s", s)
			}
		}
		for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
			if !methods[m] {
				t.Errorf("no %s request seen: %v", m, seen)
			}
		}

		for idx := range counts {
			mustJSON(t, n, http.MethodDelete, "/"+idx, nil, nil)
			if _, err := n.Count(ctx(t), idx); err == nil {
				t.Fatalf("%s still answers after DELETE", idx)
			}
		}
		r = tool(t, map[string]string{"ES_HOST_URL": n.URL, "ES_REPOSITORY": "drill", "ES_SNAPSHOTNAME": "drill"}, "restore", "--wait")
		if r.code != 0 {
			t.Fatalf("restore: %s", r)
		}
		r = tool(t, map[string]string{"ES_HOST_URL": n.URL, "ES_REPOSITORY": "drill", "ES_SNAPSHOTNAME": "drill"},
			"restore", "--wait", "--indices", "drill-a,drill-b", "--rename-pattern", "drill-(.+)", "--rename-replacement", "copy-$1")
		if r.code != 0 {
			t.Fatalf("restore with rename: %s", r)
		}
		for idx, want := range counts {
			if got, err := n.Count(ctx(t), idx); err != nil || got != want {
				t.Errorf("%s after restore: %d docs (%v), want %d", idx, got, err, want)
			}
		}
		for _, idx := range []string{"copy-a", "copy-b"} {
			want := counts["drill-"+strings.TrimPrefix(idx, "copy-")]
			if got, err := n.Count(ctx(t), idx); err != nil || got != want {
				t.Errorf("%s (renamed restore): %d docs (%v), want %d", idx, got, err, want)
			}
		}
		if _, err := n.Count(ctx(t), "copy-c"); err == nil {
			t.Error("copy-c was restored though --indices left drill-c out")
		}

		r = tool(t, map[string]string{"ES_HOST_URL": n.URL, "ES_REPOSITORY": "drill"}, "list")
		if r.code != 0 || !strings.Contains(r.stdout, "SUCCESS") || !strings.Contains(r.stdout, "_drill") {
			t.Errorf("list: %s", r)
		}
		// Sizes where the server gives them (index_details, Elasticsearch 7.13+).
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		sized := strings.Contains(lines[len(lines)-1], "KiB")
		if want := n.Flavor == opensearchtest.Elasticsearch717; sized != want {
			t.Errorf("list on %s: size shown %v, want %v:\n%s", n.Flavor, sized, want, r.stdout)
		}
	})
}

// chattrImmutable makes dir and everything in it immutable (root can't
// write there either, unlike after chmod) until the test ends.
func chattrImmutable(t *testing.T, dir string) {
	t.Helper()
	chattr := testkit.Need(t, "chattr")
	if out, err := exec.Command(chattr, "-R", "+i", dir).CombinedOutput(); err != nil {
		t.Fatalf("chattr +i %s (the test needs a file system with immutable files, e.g. ext4): %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(chattr, "-R", "-i", dir).CombinedOutput(); err != nil {
			t.Errorf("chattr -i %s: %v: %s", dir, err, out)
		}
	})
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o644); err == nil {
		os.Remove(probe)
		t.Fatalf("%s is still writable after chattr +i", dir)
	}
}

// A repository that became read-only: the backup fails, non-zero, with the
// server's reason on stderr, and nothing looks like a new backup.
func TestReadOnlyRepositoryFails(t *testing.T) {
	eachNode(t, func(t *testing.T, n *opensearchtest.Node) {
		if err := n.IndexDocs(ctx(t), "ro-src", 10); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(n.Repo, "ro")
		env := map[string]string{
			"ES_HOST_URL": n.URL, "ES_REPOSITORY": "ro", "ES_REPOSITORY_TYPE": "fs", "ES_FS_LOCATION": dir,
			"ES_SNAPSHOTNAME": "ro", "ES_INDICES": "ro-src", "ES_TIMEOUT": "1m",
		}
		if r := script(t, env); r.code != 0 {
			t.Fatalf("es-backup into the writable repository: %s", r)
		}
		first := time.Now()
		chattrImmutable(t, dir)
		nextSecond(t, first)

		r := script(t, env)
		if r.code == 0 {
			t.Fatalf("es-backup into a read-only repository succeeded: %s", r)
		}
		for _, want := range []string{"verify repository ro", "Operation not permitted", "es-backup: step 1/3"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r)
			}
		}

		// Under go-cron, the failure shows on the status port: 503, with the
		// server's reason in Last.Stderr.
		goCronReports503(t, env)

		// Without the verification step, the snapshot itself fails: the
		// server accepts it, then drops it; create says so and why.
		r = tool(t, env, "create")
		if r.code != 1 {
			t.Fatalf("create into a read-only repository: %s", r)
		}
		for _, want := range []string{"dropped it without recording it", "Operation not permitted"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("create's stderr lacks %q:\n%s", want, r)
			}
		}
		if snaps := snapshots(t, n, "ro"); len(snaps) != 1 {
			t.Errorf("the repository holds %v; want only the first good snapshot", names(snaps))
		}
	})
}

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

// A second create while one is running waits for it (the node allows one
// snapshot operation at a time here, as Elasticsearch before 7.9 always
// did) and then succeeds.
func TestSecondCreateWaitsForTheFirst(t *testing.T) {
	eachNode(t, func(t *testing.T, n *opensearchtest.Node) {
		limit := func(v any) {
			mustJSON(t, n, http.MethodPut, "/_cluster/settings",
				map[string]any{"transient": map[string]any{"snapshot.max_concurrent_operations": v}}, nil)
		}
		limit(1)
		t.Cleanup(func() { limit(nil) })
		if err := n.IndexDocs(ctx(t), "slow-src", 5); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"ES_HOST_URL": n.URL, "ES_REPOSITORY": "slow", "ES_INDICES": "slow-src", "ES_TIMEOUT": "2m"}
		// Throttled to 1 KiB/s, the first snapshot of a few KiB takes seconds.
		if r := tool(t, env, "repo", "ensure", "--type", "fs", "--location", filepath.Join(n.Repo, "slow"),
			"--settings", `{"max_snapshot_bytes_per_sec":"1kb"}`); r.code != 0 {
			t.Fatalf("repo ensure: %s", r)
		}

		firstEnv := map[string]string{"ES_SNAPSHOTNAME": "first"}
		for k, v := range env {
			firstEnv[k] = v
		}
		first := command(t, firstEnv, filepath.Join(binDir(t), "es-snapshot"), "create")
		var fout, ferr bytes.Buffer
		first.Stdout, first.Stderr = &fout, &ferr
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		firstDone := make(chan error, 1)
		go func() { firstDone <- first.Wait() }()
		t.Cleanup(func() { _ = first.Process.Kill() })

		testkit.WaitFor(t, 30*time.Second, "the first snapshot to be running", func() error {
			var st struct {
				Snapshots []struct{ Snapshot string } `json:"snapshots"`
			}
			if err := n.JSON(ctx(t), http.MethodGet, "/_snapshot/slow/_status", nil, &st); err != nil {
				return err
			}
			if len(st.Snapshots) == 0 {
				return testkit.ErrNotYet
			}
			return nil
		})
		if r := tool(t, env, "status"); r.code != 0 || !strings.Contains(r.stdout, "_first") {
			t.Errorf("status while the first runs: %s", r)
		}

		secondEnv := map[string]string{"ES_SNAPSHOTNAME": "second"}
		for k, v := range env {
			secondEnv[k] = v
		}
		r := tool(t, secondEnv, "create")
		if r.code != 0 {
			t.Fatalf("second create: %s", r)
		}
		if !strings.Contains(r.stderr, "busy with another snapshot operation") {
			t.Errorf("the second create did not wait for the first:\n%s", r)
		}
		if err := <-firstDone; err != nil {
			t.Fatalf("first create: %v\n%s%s", err, fout.String(), ferr.String())
		}
		snaps := snapshots(t, n, "slow")
		a, b := snaps[strings.TrimSpace(fout.String())], snaps[strings.TrimSpace(r.stdout)]
		if !a.Good() || !b.Good() {
			t.Fatalf("states: first %s, second %s (%v)", a.State, b.State, names(snaps))
		}
		if b.StartTimeMillis < a.EndTimeMillis {
			t.Errorf("the second started at %d, before the first ended at %d", b.StartTimeMillis, a.EndTimeMillis)
		}
	})
}

// repo ensure registers once, leaves an equal registration alone (the
// server stores settings as strings: true comes back as "true"), and
// re-registers when the settings change.
func TestRepoEnsureRegistersOnlyWhenDifferent(t *testing.T) {
	eachNode(t, func(t *testing.T, n *opensearchtest.Node) {
		env := map[string]string{"ES_HOST_URL": n.URL, "ES_REPOSITORY": "ens", "ES_REPOSITORY_TYPE": "fs",
			"ES_FS_LOCATION": filepath.Join(n.Repo, "ens")}
		steps := []struct {
			settings string
			want     string
		}{
			{"", "not registered, registering"},
			{"", "registered as wanted"},
			{`{"compress":true,"chunk_size":"10mb"}`, "re-registering"},
			{`{"compress":true,"chunk_size":"10mb"}`, "registered as wanted"},
			{"", "re-registering"},
		}
		for i, s := range steps {
			env["ES_REPOSITORY_SETTINGS"] = s.settings
			r := tool(t, env, "repo", "ensure")
			if r.code != 0 || !strings.Contains(r.stderr, s.want) || !strings.Contains(r.stderr, "verified by 1 node") {
				t.Fatalf("step %d: want %q: %s", i, s.want, r)
			}
		}
		var got map[string]esclient.Repository
		mustJSON(t, n, http.MethodGet, "/_snapshot/ens", nil, &got)
		if got["ens"].Settings["compress"] != nil {
			t.Fatalf("the last ensure did not drop compress: %+v", got["ens"])
		}
	})
}

// A snapshot still running at the deadline is reported as such (exit 1),
// not waited for forever and not mistaken for a failure of the server: it
// goes on and finishes.
func TestDeadlineWhileRunning(t *testing.T) {
	eachNode(t, func(t *testing.T, n *opensearchtest.Node) {
		if err := n.IndexDocs(ctx(t), "dl-src", 5); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"ES_HOST_URL": n.URL, "ES_REPOSITORY": "dl", "ES_INDICES": "dl-src", "ES_SNAPSHOTNAME": "dl"}
		if r := tool(t, env, "repo", "ensure", "--type", "fs", "--location", filepath.Join(n.Repo, "dl"),
			"--settings", `{"max_snapshot_bytes_per_sec":"1kb"}`); r.code != 0 {
			t.Fatalf("repo ensure: %s", r)
		}
		env["ES_TIMEOUT"] = "1500ms"
		r := tool(t, env, "create")
		if r.code != 1 || !strings.Contains(r.stderr, "still IN_PROGRESS at the deadline") || !strings.Contains(r.stderr, "goes on in the server") {
			t.Fatalf("create past its deadline: %s", r)
		}
		finished := func() error {
			for _, s := range snapshots(t, n, "dl") {
				if s.State == esclient.StateInProgress {
					return testkit.ErrNotYet
				}
				if !s.Good() {
					return fmt.Errorf("%s ended %s", s.Name, s.State)
				}
			}
			return nil
		}
		testkit.WaitFor(t, time.Minute, "the snapshot to finish in the server", finished)

		// SIGTERM (docker stop, a go-cron timeout) ends the wait the same way.
		nextSecond(t, time.Now())
		env["ES_TIMEOUT"] = "1m"
		cmd := command(t, env, filepath.Join(binDir(t), "es-snapshot"), "create")
		stderr := &testkit.Buffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 30*time.Second, "the snapshot to be running", func() error {
			if !strings.Contains(stderr.String(), "starting in repository") {
				return testkit.ErrNotYet
			}
			if err := finished(); err != testkit.ErrNotYet {
				return fmt.Errorf("not running: %v", err)
			}
			return nil
		})
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "still IN_PROGRESS when interrupted") {
			t.Fatalf("create after SIGTERM: %v\n%s", err, stderr.String())
		}
		testkit.WaitFor(t, time.Minute, "the snapshot to finish in the server", finished)
	})
}

// goCronReports503 runs es-backup once under the real go-cron and reads its
// status port while go-cron keeps serving it.
func goCronReports503(t *testing.T, env map[string]string) {
	t.Helper()
	gocron := testkit.Build(t, "cronbox/go-cron")
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	cmd := command(t, env, gocron, "--run-on-start", "--status-addr", addr, "@every 1h", "--",
		"/bin/busybox", "sh", filepath.Join(testkit.RepoRoot(t), "scripts", "es-backup"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var status struct {
		Last *struct {
			ExitStatus int    `json:"Exit_status"`
			Stderr     string `json:"Stderr"`
		}
	}
	code := 0
	testkit.WaitFor(t, time.Minute, "go-cron to report the finished run", func() error {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		code = resp.StatusCode
		status.Last = nil
		if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
			return err
		}
		if status.Last == nil || status.Last.ExitStatus == 0 && code == http.StatusOK {
			return testkit.ErrNotYet
		}
		return nil
	})
	if code != http.StatusServiceUnavailable || status.Last.ExitStatus == 0 ||
		!strings.Contains(status.Last.Stderr, "Operation not permitted") {
		t.Fatalf("go-cron status: HTTP %d, last run %+v\n%s", code, status.Last, logs.String())
	}
}
