package cli_test

import (
	"bytes"
	"context"
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
