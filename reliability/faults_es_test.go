package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cronbox/es-snapshot/esclient"
	"cronbox/reliability/faults"
	"cronbox/testkit"
	"cronbox/testkit/opensearchtest"
)

const esDocs = 20000

func esEnv(node *opensearchtest.Node, url string, more ...string) []string {
	return append([]string{"ES_HOST_URL=" + url, "ES_REPOSITORY=repo", "ES_REPOSITORY_TYPE=fs",
		"ES_FS_LOCATION=" + filepath.Join(node.Repo, "repo"), "ES_SNAPSHOTNAME=rel", "ES_TIMEOUT=2m", "ES_REQUEST_TIMEOUT=20s"}, more...)
}

// snapshots lists the repository straight from the node.
func snapshots(t *testing.T, node *opensearchtest.Node) []esclient.Snapshot {
	t.Helper()
	code, b, err := node.Do(context.Background(), http.MethodGet, "/_snapshot/repo/_all", nil)
	if err != nil || code != 200 {
		t.Fatalf("list snapshots: %d %v %s", code, err, b)
	}
	s, err := esclient.ParseSnapshots(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// esRestores restores snapshot name's index under a new name and counts
// its documents.
func esRestores(t *testing.T, o *outcome, node *opensearchtest.Node, name, index string) {
	t.Helper()
	target := "restored_" + strings.ToLower(strings.NewReplacer("-", "_", ":", "_").Replace(name))
	body := fmt.Sprintf(`{"indices":%q,"rename_pattern":"(.+)","rename_replacement":%q}`, index, target)
	code, b, err := node.Do(context.Background(), http.MethodPost, "/_snapshot/repo/"+name+"/_restore?wait_for_completion=true", body)
	if err != nil || code != 200 {
		o.lost(t, "restore of %s: %d %v %s", name, code, err, b)
		return
	}
	node.Do(context.Background(), http.MethodPost, "/"+target+"/_refresh", nil)
	n, err := node.Count(context.Background(), target)
	if err != nil || n != esDocs {
		o.lost(t, "restored %s holds %d documents (%v), want %d", name, n, err, esDocs)
	}
	node.Do(context.Background(), http.MethodDelete, "/"+target, nil)
}

// lastSnapshotName is what es-snapshot create printed as the snapshot name:
// the newest snapshot in the repository.
func newest(snaps []esclient.Snapshot) *esclient.Snapshot {
	var best *esclient.Snapshot
	for i := range snaps {
		if best == nil || snaps[i].StartTimeMillis > best.StartTimeMillis {
			best = &snaps[i]
		}
	}
	return best
}

func TestFaultsOpenSearch(t *testing.T) {
	node := opensearchtest.New(t, opensearchtest.Options{})
	if err := node.IndexDocs(context.Background(), "docs", esDocs); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(node.URL, "http://")
	if _, stderr, code := runTool(t, esEnv(node, node.URL), nil, "es-snapshot", "repo", "ensure"); code != 0 {
		t.Fatalf("repo ensure: %s", stderr)
	}
	cases := []struct {
		name   string
		fault  func(t *testing.T, p *faults.Proxy) (heal func())
		window time.Duration
		good   bool
		reason string
		args   []string
	}{
		{name: "latency 100ms", good: true, fault: func(t *testing.T, p *faults.Proxy) func() {
			p.Add(t, faults.Downstream, "latency", faults.Attrs{"latency": 100})
			return nil
		}},
		{name: "bandwidth 20 KB/s", good: true, fault: func(t *testing.T, p *faults.Proxy) func() {
			p.Add(t, faults.Downstream, "bandwidth", faults.Attrs{"rate": 20})
			return nil
		}},
		{name: "slow close 500ms", good: true, fault: func(t *testing.T, p *faults.Proxy) func() {
			p.Add(t, faults.Downstream, "slow_close", faults.Attrs{"delay": 500})
			return nil
		}},
		{name: "server down 1s at the start, then back", good: true, window: time.Second, fault: func(t *testing.T, p *faults.Proxy) func() {
			p.Down(t)
			time.AfterFunc(time.Second, func() { p.Up(t) })
			return nil
		}},
		{name: "reset mid-answer for 1s, then healed", good: true, window: time.Second, fault: func(t *testing.T, p *faults.Proxy) func() {
			n := p.Add(t, faults.Downstream, "limit_data", faults.Attrs{"bytes": 100})
			time.AfterFunc(time.Second, func() { p.Remove(t, n) })
			return nil
		}},
		{name: "server down", reason: "", fault: func(t *testing.T, p *faults.Proxy) func() { p.Down(t); return nil }},
		{name: "reset on every request", fault: func(t *testing.T, p *faults.Proxy) func() {
			p.Add(t, faults.Upstream, "reset_peer", faults.Attrs{"timeout": 0})
			return nil
		}},
		{name: "black hole, request timeout 2s", args: []string{"--request-timeout", "2s", "--timeout", "15s"},
			fault: func(t *testing.T, p *faults.Proxy) func() {
				p.Add(t, faults.Upstream, "timeout", faults.Attrs{"timeout": 0})
				return nil
			}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := track(t, "faults: OpenSearch")
			p := faults.New(t, host)
			c.fault(t, p)
			before := len(snapshots(t, node))
			// Names are to the second: each case has its own name part, so two
			// runs within one second do not collide.
			args := append([]string{"create", "--name", fmt.Sprintf("case%d", i)}, c.args...)
			_, stderr, code := runTool(t, esEnv(node, p.URL()), nil, "es-snapshot", args...)
			after := snapshots(t, node)
			if c.good {
				if code != 0 {
					t.Fatalf("a transient fault failed the snapshot: exit %d: %s", code, stderr)
				}
				s := newest(after)
				if s == nil || !s.Good() {
					o.partial(t, "create exited 0 but the newest snapshot is %+v", s)
					return
				}
				esRestores(t, o, node, s.Name, "docs")
				return
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines > 2 || !strings.Contains(stderr, p.Addr) {
				t.Errorf("want a short reason naming %s: %s", p.Addr, stderr)
			}
			if len(after) != before {
				// The request may have reached the node before the fault cut the
				// answer: then it must be a complete snapshot, not counted if not.
				for _, s := range after {
					if s.State != esclient.StateSuccess && s.State != esclient.StateInProgress {
						t.Logf("left: %s %s", s.Name, s.State)
					}
				}
			}
		})
	}
}

// TestOpenSearchRestartMidSnapshot: the node restarts (same data path) while
// a throttled snapshot runs. es-snapshot create must not exit 0 unless the
// snapshot is complete; prune afterwards keeps the last good snapshot.
func TestOpenSearchRestartMidSnapshot(t *testing.T) {
	o := track(t, "process faults")
	dir := t.TempDir()
	node := opensearchtest.New(t, opensearchtest.Options{Dir: dir})
	if err := node.IndexDocs(context.Background(), "docs", esDocs); err != nil {
		t.Fatal(err)
	}
	p := faults.New(t, strings.TrimPrefix(node.URL, "http://"))
	// A slow repository: the snapshot takes long enough to be cut.
	env := esEnv(node, p.URL(), `ES_REPOSITORY_SETTINGS={"max_snapshot_bytes_per_sec":"100kb"}`, "ES_KEEP_LAST=1")
	if _, stderr, code := runTool(t, esEnv(node, p.URL()), nil, "es-snapshot", "repo", "ensure"); code != 0 {
		t.Fatalf("repo ensure: %s", stderr)
	}
	if _, stderr, code := runTool(t, esEnv(node, p.URL()), nil, "es-snapshot", "create"); code != 0 {
		t.Fatalf("first (good) snapshot: %s", stderr)
	}
	good := newest(snapshots(t, node))
	if _, stderr, code := runTool(t, env, nil, "es-snapshot", "repo", "ensure"); code != 0 {
		t.Fatalf("repo ensure (throttled): %s", stderr)
	}
	// More data, so the second snapshot has something to copy slowly.
	if err := node.IndexDocs(context.Background(), "docs2", esDocs); err != nil {
		t.Fatal(err)
	}
	proc := start(t, env, nil, "es-snapshot", "create")
	testkit.WaitFor(t, time.Minute, "a snapshot in progress", func() error {
		if proc.exited() {
			return nil
		}
		code, b, err := node.Do(context.Background(), http.MethodGet, "/_snapshot/_status", nil)
		if err != nil || code != 200 {
			return testkit.ErrNotYet
		}
		var st struct{ Snapshots []json.RawMessage }
		json.Unmarshal(b, &st)
		if len(st.Snapshots) == 0 {
			return testkit.ErrNotYet
		}
		return nil
	})
	if proc.exited() {
		t.Fatalf("the snapshot finished before the restart: %s", proc.stderr.String())
	}
	node.Stop()
	node2 := opensearchtest.New(t, opensearchtest.Options{Dir: dir})
	p.SetUpstream(t, strings.TrimPrefix(node2.URL, "http://"))
	code := proc.wait(t)
	t.Logf("es-snapshot create during the restart: %s", proc.stderr.String())
	snaps := snapshots(t, node2)
	var cut *esclient.Snapshot
	for i := range snaps {
		if snaps[i].Name != good.Name {
			cut = &snaps[i]
		}
	}
	t.Logf("after the restart: create exit %d, the cut snapshot: %+v", code, cut)
	if code == 0 {
		if cut == nil || !cut.Good() {
			o.partial(t, "create exited 0 for a snapshot that is %+v", cut)
		}
	} else if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	// Retention with keep-last 1 must keep a good snapshot, never only the cut one.
	if _, stderr, code := runTool(t, esEnv(node2, p.URL(), "ES_KEEP_LAST=1"), nil, "es-snapshot", "prune"); code != 0 {
		t.Errorf("prune: exit %d: %s", code, stderr)
	}
	var goods int
	left := snapshots(t, node2)
	for _, s := range left {
		if s.Good() {
			goods++
		}
	}
	t.Logf("after prune --keep-last 1: %d snapshots, %d good", len(left), goods)
	if goods == 0 {
		o.lost(t, "prune left no good snapshot (the good one was %s)", good.Name)
	}
	_ = exec.Command
}
