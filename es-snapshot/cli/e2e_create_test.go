package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/es-snapshot/esclient"
	"cronbox/testkit"
	"cronbox/testkit/opensearchtest"
)

// End-to-end tests of create when it cannot simply succeed: a read-only
// repository, another snapshot running, the deadline (helpers and the
// nodes in e2e_test.go).

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
