package cli_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// These tests run the real go-cron binary with pings and notifications
// going to testkit's HTTP recorder, and a job whose behaviour a file
// controls, through the sequences of issue 16: success, failure, killed by
// a signal, timeout, overlap skip, stale, recovery, lock held elsewhere.

// modeJob is a job that does what the file says: ok, fail, kill, hang.
func modeJob(t *testing.T) (set func(string), job []string) {
	dir := t.TempDir()
	mode := filepath.Join(dir, "mode")
	set = func(m string) {
		if err := os.WriteFile(mode+".tmp", []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(mode+".tmp", mode); err != nil {
			t.Fatal(err)
		}
	}
	set("ok")
	script := `case "$(cat ` + mode + `)" in
ok) echo "backup ok" ;;
fail) echo "upload failed: 503 Slow Down" >&2; exit 3 ;;
kill) echo "about to die" >&2; kill -KILL $$ ;;
hang) echo "hanging" >&2; exec sleep 30 ;;
esac`
	return set, []string{"sh", "-c", script}
}

type hookEvent struct {
	Event, Job, Host, Detail, Message string
	Run                               struct {
		Exit_status int //nolint:revive // the status JSON's spelling
		Signal      string
		TimedOut    bool
		Stderr      string
	}
}

func hookEvents(t *testing.T, rec *testkit.Recorder, prefix string) []hookEvent {
	t.Helper()
	var out []hookEvent
	for _, r := range rec.Requests(prefix) {
		var h hookEvent
		if err := json.Unmarshal([]byte(r.Body), &h); err != nil {
			t.Fatalf("webhook body: %v\n%s", err, r.Body)
		}
		out = append(out, h)
	}
	return out
}

// waitEvent waits until the webhook has received n events and returns them.
func waitEvent(t *testing.T, rec *testkit.Recorder, n int, want string) []hookEvent {
	t.Helper()
	var hs []hookEvent
	testkit.WaitFor(t, 30*time.Second, fmt.Sprintf("webhook event %d (%s)", n, want), func() error {
		hs = hookEvents(t, rec, "/hook")
		if len(hs) < n {
			return fmt.Errorf("%d events so far", len(hs))
		}
		return nil
	})
	if hs[n-1].Event != want {
		t.Fatalf("event %d is %s (%s), want %s", n, hs[n-1].Event, hs[n-1].Detail, want)
	}
	return hs
}

// endPings are the final pings (not /start) under prefix.
func endPings(rec *testkit.Recorder, prefix string) []testkit.Request {
	var out []testkit.Request
	for _, r := range rec.Requests(prefix) {
		if !strings.Contains(r.Path, "/start?") {
			out = append(out, r)
		}
	}
	return out
}

func waitPing(t *testing.T, rec *testkit.Recorder, what string, match func(testkit.Request) bool) testkit.Request {
	t.Helper()
	var got testkit.Request
	testkit.WaitFor(t, 30*time.Second, "a ping: "+what, func() error {
		for _, r := range endPings(rec, "/ping/") {
			if match(r) {
				got = r
				return nil
			}
		}
		return testkit.ErrNotYet
	})
	return got
}

// metric reads one sample from /metrics.
func (g *gocron) metric(t *testing.T, sample string) int {
	t.Helper()
	_, b := g.get(t, "/metrics")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, sample+" "); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	return -1
}

func TestNotifySequences(t *testing.T) {
	rec := testkit.NewRecorder(t)
	set, job := modeJob(t)
	token := "0f8a1234-5678-4abc-9def-0123456789ab"
	g := start(t, options{env: []string{"GOCRON_PING_URL=" + rec.URL + "/ping/" + token, "JOB=nightly-backup"}},
		append([]string{"--webhook-url", rec.URL + "/hook", "--notify-retries", "0", "--timeout", "1500ms",
			"--max-age", "4s", "* * * * * *", "--"}, job...)...)

	// success: an end ping with the output, no notification.
	p := waitPing(t, rec, "success", func(r testkit.Request) bool { return strings.HasPrefix(r.Path, "/ping/"+token+"?rid=") })
	if !strings.HasPrefix(p.Body, "backup ok\n") || !strings.Contains(p.Body, "go-cron: exit status 0") {
		t.Errorf("success ping body %q", p.Body)
	}

	// failure: /fail with stderr, and the failure event.
	set("fail")
	hs := waitEvent(t, rec, 1, "failure")
	if f := hs[0]; f.Job != "nightly-backup" || f.Run.Exit_status != 3 || !strings.Contains(f.Message, "upload failed: 503 Slow Down") || f.Detail != "exit status 3 after "+strings.TrimPrefix(f.Detail, "exit status 3 after ") {
		t.Errorf("failure event %+v", f)
	}
	waitPing(t, rec, "failure", func(r testkit.Request) bool {
		return strings.HasPrefix(r.Path, "/ping/"+token+"/fail?") && strings.Contains(r.Body, "upload failed")
	})

	// killed by a signal: still failing, so no new event; the ping says it.
	set("kill")
	waitPing(t, rec, "killed", func(r testkit.Request) bool {
		return strings.HasPrefix(r.Path, "/ping/"+token+"/fail?") && strings.Contains(r.Body, "killed by SIGKILL")
	})

	// recovery.
	set("ok")
	hs = waitEvent(t, rec, 2, "recovery")
	if !strings.Contains(hs[1].Detail, "runs before it failed") {
		t.Errorf("recovery detail %q", hs[1].Detail)
	}

	// timeout: runs every second hang for 1.5 s, so slots are skipped
	// (overlap); skipped slots send nothing.
	set("hang")
	hs = waitEvent(t, rec, 3, "failure")
	if !hs[2].Run.TimedOut || !strings.Contains(hs[2].Detail, "timed out after") {
		t.Errorf("timeout event %+v", hs[2])
	}
	waitPing(t, rec, "timed out", func(r testkit.Request) bool { return strings.Contains(r.Body, "go-cron: timed out after") })

	// stale: no success for --max-age.
	hs = waitEvent(t, rec, 4, "stale")
	if !strings.Contains(hs[3].Detail, "no successful run since the last success") {
		t.Errorf("stale detail %q", hs[3].Detail)
	}
	set("ok")
	waitEvent(t, rec, 5, "recovery")

	// Stop: every run that started pinged start and end, with one rid.
	syscall.Kill(g.pid, syscall.SIGTERM)
	g.wait(t, 15*time.Second)
	started := 0
	skipped := 0
	for _, l := range g.logs() {
		switch l["msg"] {
		case "run started":
			started++
		case "run skipped":
			skipped++
		}
	}
	if skipped == 0 {
		t.Errorf("no slot was skipped while the job hung")
	}
	starts := map[string]bool{}
	for _, r := range rec.Requests("/ping/" + token + "/start?") {
		starts[rid(t, r.Path)] = true
	}
	ends := endPings(rec, "/ping/")
	if len(starts) != started || len(ends) != started {
		t.Errorf("%d runs started, %d start pings, %d end pings", started, len(starts), len(ends))
	}
	for _, r := range ends {
		if !starts[rid(t, r.Path)] {
			t.Errorf("end ping %s pairs with no start", r.Path)
		}
	}
	if got := len(hookEvents(t, rec, "/hook")); got != 5 {
		t.Errorf("%d events, want 5: %+v", got, hookEvents(t, rec, "/hook"))
	}
	if strings.Contains(g.stderr.String(), token) {
		t.Errorf("the ping URL's token is in go-cron's log")
	}
}

func rid(t *testing.T, path string) string {
	u, err := url.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("rid")
}

// TestNotifyFailuresAreVisible: a webhook answering 500 and a chat service
// that is down are in the log, in /metrics and in the status JSON, and the
// schedule goes on.
func TestNotifyFailuresAreVisible(t *testing.T) {
	rec := testkit.NewRecorder(t)
	rec.Answer(500)
	down := "127.0.0.1:" + fmt.Sprint(testkit.FreePort(t))
	g := start(t, options{env: []string{"GOCRON_NOTIFY_URLS=ntfy://" + down + "/t0pic-abc123456?scheme=http", "GOCRON_NOTIFY_ON=failure,success"}},
		"--webhook-url", rec.URL+"/hook/T0KEN-98765432", "--notify-retries", "1", "* * * * * *", "--", "sh", "-c", "exit 1")
	testkit.WaitFor(t, 30*time.Second, "failures counted", func() error {
		w := g.metric(t, `gocron_notifications_total{channel="webhook",result="failed"}`)
		n := g.metric(t, `gocron_notifications_total{channel="ntfy",result="failed"}`)
		if w < 1 || n < 1 {
			return fmt.Errorf("webhook failed %d, ntfy failed %d", w, n)
		}
		return nil
	})
	_, _, raw := g.status(t)
	var notif struct {
		Channels []struct {
			Channel, URL string
			Sent, Failed int
		}
		LastError *struct{ Channel, URL, Error string }
	}
	if err := json.Unmarshal(raw["Notifications"], &notif); err != nil {
		t.Fatalf("Notifications: %v: %s", err, raw["Notifications"])
	}
	if notif.LastError == nil || len(notif.Channels) != 2 || notif.Channels[0].URL != "http://"+strings.TrimPrefix(rec.URL, "http://")+"/***" {
		t.Errorf("Notifications: %s", raw["Notifications"])
	}
	logged := false
	for _, l := range g.logs() {
		if l["msg"] == "notification failed; giving up" {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no log line for the failed notification")
	}
	body := string(raw["Notifications"]) + g.stderr.String()
	for _, secret := range []string{"T0KEN-98765432", "t0pic-abc123456"} {
		if strings.Contains(body, secret) {
			t.Errorf("%s leaked into the status or the log", secret)
		}
	}
	if runs := g.metric(t, `gocron_runs_total{result="failure"}`); runs < 2 {
		t.Errorf("the schedule stopped: %d runs", runs)
	}
}

// TestNotifyOncePingsBeforeExit: with --once (a Kubernetes CronJob) the
// pings and the notifications are delivered before go-cron exits with the
// job's status.
func TestNotifyOncePingsBeforeExit(t *testing.T) {
	rec := testkit.NewRecorder(t)
	// The job does not see go-cron's notification secrets.
	g := start(t, options{env: []string{"GOCRON_WEBHOOK_SECRET=hook-key-123456", "GOCRON_NOTIFY_URLS=ntfy://" + strings.TrimPrefix(rec.URL, "http://") + "/t?scheme=http"}},
		"--once", "--ping-url", rec.URL+"/ping/once", "--ping-exit-status", "--webhook-url", rec.URL+"/hook", "--",
		"sh", "-c", "if env | grep -q '^GOCRON_\\(WEBHOOK\\|PING\\|NOTIFY_URLS\\)'; then exit 9; fi; echo bad >&2; exit 4")
	if code := g.wait(t, 20*time.Second); code != 4 {
		t.Errorf("exit status %d, want 4", code)
	}
	got := rec.Requests("/ping/once")
	if len(got) != 2 || !strings.HasPrefix(got[0].Path, "/ping/once/start?rid=") || !strings.HasPrefix(got[1].Path, "/ping/once/4?rid=") || !strings.Contains(got[1].Body, "bad") {
		t.Errorf("pings %+v", got)
	}
	if n := len(rec.Requests("/hook")) + len(rec.Requests("/t")); n != 2 {
		t.Errorf("%d notifications delivered before the exit, want the webhook's and ntfy's", n)
	}
}

// TestNotifyLockHeldElsewhere: two replicas under the lock (a real etcd);
// each slot runs on one of them, which pings for it; the one that skips
// (held elsewhere) sends nothing.
func TestNotifyLockHeldElsewhere(t *testing.T) {
	// A real etcd process: the lock speaks etcd's JSON gateway, which an
	// embedded member on port 0 does not serve.
	cl := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 1})
	rec := testkit.NewRecorder(t)
	var gs []*gocron
	for _, id := range []string{"a", "b"} {
		gs = append(gs, start(t, options{},
			"--lock-etcd", strings.Join(cl.Endpoints(), ","), "--lock-name", "notify-e2e", "--lock-instance", id, "--lock-ttl", "2s",
			"--ping-url", rec.URL+"/ping/"+id, "* * * * * *", "--", "sh", "-c", "echo ran; sleep 0.2"))
	}
	testkit.WaitFor(t, 40*time.Second, "both replicas skipping some slots and six runs", func() error {
		runs, held := 0, 0
		for _, g := range gs {
			runs += g.metric(t, `gocron_runs_total{result="success"}`)
			if h := g.metric(t, `gocron_skipped_total{reason="held"}`); h > 0 {
				held++
			}
		}
		if runs < 6 || held < 1 {
			return fmt.Errorf("%d runs, %d replicas skipped", runs, held)
		}
		return nil
	})
	total := 0
	for i, g := range gs {
		syscall.Kill(g.pid, syscall.SIGTERM)
		g.wait(t, 15*time.Second)
		started := 0
		for _, l := range g.logs() {
			if l["msg"] == "run started" {
				started++
			}
		}
		id := []string{"a", "b"}[i]
		starts := len(rec.Requests("/ping/" + id + "/start?"))
		ends := len(endPings(rec, "/ping/"+id))
		if starts != started || ends != started {
			t.Errorf("replica %s: %d runs, %d start pings, %d end pings", id, started, starts, ends)
		}
		total += started
	}
	if total < 6 {
		t.Errorf("%d runs in all", total)
	}
}
