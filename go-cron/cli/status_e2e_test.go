package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/testkit"
)

// The original go-cron served its status on every path and method (odise/go-cron
// v0.0.5, built and asked: GET, POST and DELETE /status, /health, /x all gave
// its JSON with 200, or 503 after a failed run); monitors poll /status or
// /health. Only the documented routes (GETs) differ.
func TestStatusOnEveryPath(t *testing.T) {
	g := start(t, options{}, "--run-on-start", never, "--", "sh", "-c", "echo broken >&2; exit 4")
	g.waitFinished(t, 10*time.Second)
	_, root := g.get(t, "/")
	for _, path := range []string{"/status", "/health", "/api/v1/status?verbose=1", "/healthz/"} {
		code, b := g.get(t, path)
		if code != 503 || !bytes.Equal(b, root) {
			t.Errorf("GET %s: %d, same body as / %v:\n%s", path, code, bytes.Equal(b, root), b)
		}
	}
	for _, method := range []string{"POST", "DELETE", "PUT"} {
		req, _ := http.NewRequest(method, "http://"+g.addr+"/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !bytes.Equal(b, root) {
			t.Errorf("%s /health: %d, same body as GET / %v", method, resp.StatusCode, bytes.Equal(b, root))
		}
	}
	for path, want := range map[string]string{"/healthz": "ok\n", "/metrics": "gocron_runs_total", "/api/runs": `"Runs": [`} {
		code, b := g.get(t, path)
		if code != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d %.80q", path, code, b)
		}
	}
	// curl's Accept gets JSON, a browser's the page.
	for accept, ctype := range map[string]string{"*/*": "application/json", "text/html,application/xhtml+xml,*/*;q=0.8": "text/html; charset=utf-8"} {
		req, _ := http.NewRequest("GET", "http://"+g.addr+"/status", nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != ctype {
			t.Errorf("Accept %s: %d %s", accept, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// Running[pid] has the job's output so far, bounded and masked, as the
// original go-cron had it.
func TestRunningCarriesLiveOutput(t *testing.T) {
	const canary = "live-canary-9d1e"
	release := filepath.Join(t.TempDir(), "release")
	g := start(t, options{env: []string{"BACKUP_TOKEN=" + canary}}, "--run-on-start", "--tail-bytes", "32", never, "--",
		"sh", "-c", `echo "1/3 saving with $BACKUP_TOKEN"; echo "a warning" >&2; head -c 100 /dev/zero | tr '\0' x; echo; echo "2/3 uploading"; while [ ! -e `+release+` ]; do sleep 0.02; done; echo "3/3 done"`)
	type running struct {
		Pid                          int
		StartingTime, Stdout, Stderr string
	}
	var r running
	testkit.WaitFor(t, 15*time.Second, "the live output in Running", func() error {
		_, b := g.get(t, "/")
		var m struct{ Running map[string]running }
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		for _, r = range m.Running {
			if strings.HasSuffix(r.Stdout, "2/3 uploading\n") {
				return nil
			}
		}
		return fmt.Errorf("running %+v", m.Running)
	})
	if r.Pid == 0 || r.StartingTime == "" || r.Stderr != "a warning\n" || len(r.Stdout) > 32 {
		t.Errorf("Running entry %+v", r)
	}
	_, b := g.get(t, "/")
	if bytes.Contains(b, []byte(canary)) {
		t.Errorf("the live output shows the secret")
	}
	// The original's keys, in its order (odise/go-cron v0.0.5 showed a
	// running job as {"Exit_status": 0, "Stdout", "Stderr", "ExitTime": "",
	// "Pid", "StartingTime"}).
	var m struct{ Running map[string]json.RawMessage }
	json.Unmarshal(b, &m)
	for _, raw := range m.Running {
		if got := strings.Join(keysInOrder(t, raw), ","); got != "Exit_status,Stdout,Stderr,ExitTime,Pid,StartingTime" {
			t.Errorf("Running entry keys %s", got)
		}
		if !bytes.Contains(raw, []byte(`"Exit_status": 0,`)) || !bytes.Contains(raw, []byte(`"ExitTime": "",`)) {
			t.Errorf("Running entry %s", raw)
		}
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := g.waitFinished(t, 10*time.Second)
	if !strings.HasSuffix(s.Last.Stdout, "3/3 done\n") || len(s.Running) != 0 {
		t.Errorf("after the run: %+v", s)
	}
}

// A shell job reports its result as the README shows; go-cron keeps it with
// the run and as LastGood, and /metrics has its time and size.
func TestScriptReportsItsResult(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	// The README's example, then a second run that fails.
	script := `if [ -e ` + marker + ` ]; then echo '{"message":"half"}' > "$GOCRON_RESULT_FILE"; exit 3; fi
touch ` + marker + `
out=` + dir + `/backup.tar
echo data > "$out"
size=$(wc -c < "$out")
sum=$(sha256sum "$out" | cut -d' ' -f1)
printf '{"kind":"tar","location":"%s","size":%d,"sha256":"%s"}\n' "$out" "$size" "$sum" > "${GOCRON_RESULT_FILE:-/dev/null}"`
	tmp := t.TempDir()
	g := start(t, options{env: []string{"TMPDIR=" + tmp}}, "* * * * * *", "--", "sh", "-c", script)
	var m struct {
		Last     struct{ Report json.RawMessage }
		LastGood *struct {
			Pid        int
			AgeSeconds int
			Report     struct {
				Location string
				Size     int
				SHA256   string `json:"sha256"`
			}
		}
	}
	testkit.WaitFor(t, 20*time.Second, "a failed run after the good one", func() error {
		code, b := g.get(t, "/")
		m.LastGood = nil
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		if code != 503 || m.LastGood == nil {
			return fmt.Errorf("%d %s", code, b)
		}
		return nil
	})
	sum := sha256.Sum256([]byte("data\n"))
	if lg := m.LastGood.Report; lg.Location != filepath.Join(dir, "backup.tar") || lg.Size != 5 || lg.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("LastGood %+v", m.LastGood)
	}
	if string(m.Last.Report) == "" || !strings.Contains(string(m.Last.Report), "half") {
		t.Errorf("the failed run's report: %s", m.Last.Report)
	}
	_, metrics := g.get(t, "/metrics")
	if !bytes.Contains(metrics, []byte("gocron_last_good_backup_size_bytes 5\n")) || bytes.Contains(metrics, []byte("gocron_last_good_backup_timestamp_seconds 0\n")) {
		t.Errorf("metrics:\n%s", metrics)
	}
	// go-cron keeps the runs' files in a directory of its own under TMPDIR
	// and leaves nothing behind.
	if dirs, _ := filepath.Glob(filepath.Join(tmp, "go-cron-results-*")); len(dirs) != 1 {
		t.Errorf("result directories: %v", dirs)
	}
	syscall.Kill(g.pid, syscall.SIGTERM)
	g.wait(t, 10*time.Second)
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// keysInOrder lists a JSON object's top-level keys as they come.
func keysInOrder(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	var keys []string
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}
