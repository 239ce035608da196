package notify

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"cronbox/go-cron/redact"
	"cronbox/go-cron/run"
	"cronbox/testkit"
)

// These tests send to real servers on loopback: testkit's HTTP recorder
// (pings, the webhook, ntfy) and aiosmtpd (mail).

const jobSecret = "s3cr3t-job-password"

func testConfig(t *testing.T) (Config, *testkit.Buffer) {
	logs := &testkit.Buffer{}
	red := redact.New([]string{"DB_PASSWORD=" + jobSecret}, []string{"*PASSWORD*"})
	return Config{
		Job: "backup", Host: "box-1", Version: "test",
		Timeout: 2 * time.Second, Retries: 0, Queue: 10, Backoff: 10 * time.Millisecond,
		Redactor: red,
		Log:      slog.New(redact.Handler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}), red)),
	}, logs
}

func start(t *testing.T, cfg Config) *Notifier {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n == nil {
		t.Fatal("New returned no notifier")
	}
	n.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	return n
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func result(exit int, signal string, stdout, stderr string) run.Result {
	return run.Result{Pid: 42, Start: t0, End: t0.Add(1500 * time.Millisecond), ExitStatus: exit, Signal: signal, Stdout: stdout, Stderr: stderr}
}

// waitRequests waits for n requests under prefix on rec.
func waitRequests(t *testing.T, rec *testkit.Recorder, prefix string, n int) []testkit.Request {
	t.Helper()
	var got []testkit.Request
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("%d requests to %s", n, prefix), func() error {
		got = rec.Requests(prefix)
		if len(got) < n {
			return fmt.Errorf("%d so far: %v", len(got), paths(got))
		}
		return nil
	})
	return got
}

func paths(rs []testkit.Request) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

func ridOf(t *testing.T, path string) string {
	u, err := url.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("rid")
}

func TestPingsPairStartAndEnd(t *testing.T) {
	rec := testkit.NewRecorder(t)
	cfg, _ := testConfig(t)
	cfg.PingURL = rec.URL + "/ping/abc-uuid?create=1"
	n := start(t, cfg)

	cases := []struct {
		name   string
		res    run.Result
		suffix string
	}{
		{"success", result(0, "", "all good\n", ""), ""},
		{"failure", result(3, "", "", "boom\n"), "/fail"},
		{"killed by signal", result(137, "SIGKILL", "", ""), "/fail"},
	}
	for i, c := range cases {
		r := n.Begin(t0)
		r.Started()
		r.Finished(c.res)
		got := waitRequests(t, rec, "/ping/", 2*(i+1))[2*i:]
		start, end := got[0], got[1]
		if !strings.HasPrefix(start.Path, "/ping/abc-uuid/start?") || start.Method != "POST" || start.Body != "" {
			t.Errorf("%s: start ping %s %s %q", c.name, start.Method, start.Path, start.Body)
		}
		if want := "/ping/abc-uuid" + c.suffix + "?"; !strings.HasPrefix(end.Path, want) {
			t.Errorf("%s: end ping %s, want %s...", c.name, end.Path, want)
		}
		rid := ridOf(t, start.Path)
		if len(rid) != 36 || ridOf(t, end.Path) != rid {
			t.Errorf("%s: rids %q and %q do not pair", c.name, rid, ridOf(t, end.Path))
		}
		if u, _ := url.Parse(end.Path); u.Query().Get("create") != "1" {
			t.Errorf("%s: the URL's own query was lost: %s", c.name, end.Path)
		}
		if !strings.Contains(end.Body, "go-cron: "+describe(c.res)) {
			t.Errorf("%s: body %q lacks how the run ended", c.name, end.Body)
		}
	}
	if b := rec.Requests("/ping/")[1].Body; !strings.HasPrefix(b, "all good\n") {
		t.Errorf("success body %q", b)
	}
	if b := rec.Requests("/ping/")[3].Body; !strings.Contains(b, "boom") {
		t.Errorf("failure body %q", b)
	}
}

func TestPingExitStatusAndBodyLimit(t *testing.T) {
	rec := testkit.NewRecorder(t)
	cfg, _ := testConfig(t)
	cfg.PingURL = rec.URL + "/p/"
	cfg.PingExitStatus = true
	cfg.PingBody = 100
	n := start(t, cfg)
	long := strings.Repeat("é", 300) + "THE END " + jobSecret + "\n"
	n.Begin(t0).Finished(result(3, "", long, ""))
	n.Begin(t0).Finished(result(137, "SIGKILL", "", ""))
	n.Begin(t0).Finished(run.Result{ExitStatus: 127, Error: "start /nope: no such file", Start: t0, End: t0})
	got := waitRequests(t, rec, "/p", 3)
	if !strings.HasPrefix(got[0].Path, "/p/3?rid=") || !strings.HasPrefix(got[1].Path, "/p/137?rid=") || !strings.HasPrefix(got[2].Path, "/p/127?rid=") {
		t.Errorf("exit status pings: %v", paths(got))
	}
	b := got[0].Body
	if len(b) > 100 || !strings.Contains(b, "THE END") || !strings.HasSuffix(b, "exit status 3 after 1.5s\n") {
		t.Errorf("body (%d bytes) %q: want the last 100 bytes", len(b), b)
	}
	if strings.Contains(b, jobSecret) || !strings.Contains(b, redact.Mask) {
		t.Errorf("body %q: the secret is not masked", b)
	}
	if !strings.HasPrefix(b, "é") && !strings.HasPrefix(b, "THE") && strings.ContainsRune(b, '\uFFFD') {
		t.Errorf("body cut inside a character: %q", b)
	}
	if !strings.Contains(got[2].Body, "could not start: start /nope") {
		t.Errorf("could-not-start body %q", got[2].Body)
	}
}

type hook struct {
	Event, Job, Host, Detail, Message, Time string
	StatusURL                               string `json:"status_url"`
	Run                                     *struct {
		ExitStatus int
		Stdout     string
		Stderr     string
	}
}

func hooks(t *testing.T, reqs []testkit.Request) []hook {
	var out []hook
	for _, r := range reqs {
		var h hook
		if err := json.Unmarshal([]byte(r.Body), &h); err != nil {
			t.Fatalf("webhook body: %v: %s", err, r.Body)
		}
		out = append(out, h)
	}
	return out
}

func events(hs []hook) string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Event)
	}
	return strings.Join(out, ",")
}

func TestStateChanges(t *testing.T) {
	rec := testkit.NewRecorder(t)
	cfg, _ := testConfig(t)
	cfg.WebhookURL = rec.URL + "/hook"
	cfg.StatusURL = "https://status.example/backup"
	cfg.On, _ = ParseEvents("failure,recovery,success")
	cfg.Record = func(r run.Result) any {
		return map[string]any{"ExitStatus": r.ExitStatus, "Stdout": r.Stdout, "Stderr": r.Stderr}
	}
	n := start(t, cfg)
	seq := []run.Result{
		result(0, "", "ok", ""),                                // success
		result(1, "", "", "first\nsecond\nthird\n"),            // failure
		result(1, "", "", "again"),                             // still failing: nothing
		result(143, "SIGTERM", "", ""),                         // still failing: nothing
		result(0, "", "", ""),                                  // recovery
		result(0, "", "", ""),                                  // success
		{Pid: 0, ExitStatus: 127, Error: "start x: not found"}, // failure
	}
	for _, r := range seq {
		n.Begin(t0).Finished(r)
	}
	hs := hooks(t, waitRequests(t, rec, "/hook", 5))
	if got, want := events(hs), "success,failure,recovery,success,failure"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	f := hs[1]
	if f.Job != "backup" || f.Host != "box-1" || f.Detail != "exit status 1 after 1.5s" || f.Run == nil || f.Run.ExitStatus != 1 || f.StatusURL != cfg.StatusURL {
		t.Errorf("failure payload %+v", f)
	}
	if want := "backup failure on box-1: exit status 1 after 1.5s\nfirst\nsecond\nthird\nhttps://status.example/backup"; f.Message != want {
		t.Errorf("message %q, want %q", f.Message, want)
	}
	if !strings.Contains(hs[2].Detail, "the 3 runs before it failed") {
		t.Errorf("recovery detail %q", hs[2].Detail)
	}
	if !strings.Contains(hs[4].Message, "could not start: start x: not found") {
		t.Errorf("could-not-start message %q", hs[4].Message)
	}
}

func TestWebhookSignature(t *testing.T) {
	rec := testkit.NewRecorder(t)
	cfg, _ := testConfig(t)
	cfg.WebhookURL = rec.URL + "/signed"
	cfg.WebhookSecret = "hmac-key-for-tests"
	n := start(t, cfg)
	n.Begin(t0).Finished(result(2, "", "", "printed hmac-key-for-tests by mistake"))
	r := waitRequests(t, rec, "/signed", 1)[0]
	sig := r.Header.Get(SignatureHeader)
	if want := Sign([]byte("hmac-key-for-tests"), []byte(r.Body)); !hmac.Equal([]byte(sig), []byte(want)) {
		t.Errorf("signature %q, want %q", sig, want)
	}
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Cronbox-Event") != "failure" {
		t.Errorf("headers %v", r.Header)
	}
	if strings.Contains(r.Body, "hmac-key-for-tests") {
		t.Errorf("the webhook secret is in the payload: %s", r.Body)
	}

	cfg.WebhookURL, cfg.WebhookSecret = rec.URL+"/unsigned", ""
	n2 := start(t, cfg)
	n2.Begin(t0).Finished(result(2, "", "", ""))
	if r := waitRequests(t, rec, "/unsigned", 1)[0]; r.Header.Get(SignatureHeader) != "" {
		t.Errorf("unsigned webhook has a signature")
	}
}

func TestStale(t *testing.T) {
	rec := testkit.NewRecorder(t)
	cfg, _ := testConfig(t)
	cfg.WebhookURL = rec.URL + "/hook"
	cfg.MaxAge = 300 * time.Millisecond
	n := start(t, cfg)
	n.Scheduled(time.Now())
	hs := hooks(t, waitRequests(t, rec, "/hook", 1))
	if hs[0].Event != "stale" || !strings.Contains(hs[0].Detail, "since go-cron started") || hs[0].Run != nil {
		t.Errorf("stale payload %+v", hs[0])
	}
	// Once per stale period: a success recovers, and staleness comes back.
	now := time.Now()
	n.Begin(now).Finished(run.Result{Pid: 1, Start: now, End: now})
	hs = hooks(t, waitRequests(t, rec, "/hook", 3))
	if got := events(hs); got != "stale,recovery,stale" {
		t.Errorf("events %s", got)
	}
	if !strings.Contains(hs[1].Detail, "the job was stale") || !strings.Contains(hs[2].Detail, "since the last success") {
		t.Errorf("details %q, %q", hs[1].Detail, hs[2].Detail)
	}
}

func TestObserveFollowsOtherReplicas(t *testing.T) {
	rec := testkit.NewRecorder(t)
	cfg, _ := testConfig(t)
	cfg.WebhookURL = rec.URL + "/hook"
	cfg.Instance = "me"
	n := start(t, cfg)
	other := result(1, "", "", "")
	other.End = time.Now()
	n.Observe("other", other) // failed elsewhere: nothing sent from here
	mine := result(1, "", "", "")
	mine.End = other.End.Add(time.Second)
	n.Observe("me", mine)                       // my own run, already counted: ignored
	n.Begin(t0).Finished(result(0, "", "", "")) // so this one is a recovery
	hs := hooks(t, waitRequests(t, rec, "/hook", 1))
	if got := events(hs); got != "recovery" {
		t.Errorf("events %s, want recovery", got)
	}
}

func TestRetriesAndPermanentErrors(t *testing.T) {
	rec := testkit.NewRecorder(t)
	cfg, logs := testConfig(t)
	cfg.WebhookURL = rec.URL + "/hook/T0KEN1234567"
	cfg.Retries = 2
	n := start(t, cfg)

	rec.Answer(500)
	n.Begin(t0).Finished(result(1, "", "", ""))
	waitRequests(t, rec, "/hook", 3) // the first attempt and two retries
	testkit.WaitFor(t, 5*time.Second, "the failure counted", func() error {
		if s := n.Status(); s.Channels[0].Failed != 1 || s.LastError == nil {
			return fmt.Errorf("%+v", s)
		}
		return nil
	})
	s := n.Status()
	if !strings.Contains(s.LastError.Error, "500 Internal Server Error") || s.LastError.Channel != "webhook" || s.LastError.What != "failure" {
		t.Errorf("last error %+v", s.LastError)
	}
	if strings.Contains(s.LastError.URL+s.LastError.Error+logs.String(), "T0KEN1234567") {
		t.Errorf("the URL's token leaked: %+v\n%s", s.LastError, logs)
	}

	rec.Answer(404) // permanent: one attempt
	n.Begin(t0).Finished(result(0, "", "", ""))
	waitRequests(t, rec, "/hook", 4)
	testkit.WaitFor(t, 5*time.Second, "the 404 counted", func() error {
		if f := n.Status().Channels[0].Failed; f != 2 {
			return fmt.Errorf("failed %d", f)
		}
		return nil
	})
	if got := len(rec.Requests("/hook")); got != 4 {
		t.Errorf("%d requests: a 404 was retried", got)
	}
	var m strings.Builder
	n.Metrics(&m)
	if !strings.Contains(m.String(), `gocron_notifications_total{channel="webhook",result="failed"} 2`) {
		t.Errorf("metrics:\n%s", m.String())
	}

	rec.Answer(200)
	n.Begin(t0).Finished(result(1, "", "", "")) // recovery -> failure
	testkit.WaitFor(t, 5*time.Second, "a sent one", func() error {
		if s := n.Status().Channels[0].Sent; s != 1 {
			return fmt.Errorf("sent %d", s)
		}
		return nil
	})
}

// TestDeadAndHungReceivers: a receiver that is down or never answers costs
// bounded memory (the queue and one send in flight), never blocks the
// caller, and shows in the counters.
func TestDeadAndHungReceivers(t *testing.T) {
	hung := testkit.NewRecorder(t)
	hung.Hang()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/down"
	ln.Close()

	cfg, _ := testConfig(t)
	cfg.PingURL = hung.URL + "/ping"
	cfg.WebhookURL = down
	cfg.URLs = []string{"ntfy://" + strings.TrimPrefix(hung.URL, "http://") + "/topic?scheme=http"}
	cfg.On, _ = ParseEvents("failure,recovery,success")
	cfg.Timeout = 200 * time.Millisecond
	cfg.Queue = 3
	before := runtime.NumGoroutine()
	n := start(t, cfg)

	const runs = 2000
	done := make(chan struct{})
	go func() {
		for i := 0; i < runs; i++ {
			r := n.Begin(t0)
			r.Started()
			r.Finished(result(i%2, "", strings.Repeat("x", 1000), ""))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a deadline for progress, not a speed target
		t.Fatal("Started/Finished blocked on a hung receiver")
	}
	for _, c := range n.Status().Channels {
		if c.Queued > cfg.Queue {
			t.Errorf("%s: %d queued, the bound is %d", c.Channel, c.Queued, cfg.Queue)
		}
	}
	testkit.WaitFor(t, 20*time.Second, "failures counted on every channel", func() error {
		for _, c := range n.Status().Channels {
			if c.Failed == 0 || c.Dropped == 0 {
				return fmt.Errorf("%+v", n.Status().Channels)
			}
		}
		return nil
	})
	for _, c := range n.Status().Channels {
		total := c.Sent + c.Failed + c.Dropped + uint64(c.Queued)
		want := uint64(2 * runs) // ping: start and end
		if c.Channel != "ping" {
			want = runs // every run changes the state (success/failure alternate)
		}
		if total > want || c.Sent > 0 {
			t.Errorf("%s: %+v does not add up to at most %d, none sent", c.Channel, c, want)
		}
	}
	// Goroutines: a worker per channel, the abandoned send of each hung
	// one, the HTTP connections; not one per message.
	if g := runtime.NumGoroutine(); g > before+30 {
		t.Errorf("%d goroutines, %d before: not bounded", g, before)
	}
}

func TestCloseDrainsTheQueue(t *testing.T) {
	rec := testkit.NewRecorder(t)
	cfg, _ := testConfig(t)
	cfg.PingURL = rec.URL + "/ping"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	for i := 0; i < 5; i++ {
		n.Begin(t0).Finished(result(0, "", "", ""))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.Close(ctx)
	if got := len(rec.Requests("/ping")); got != 5 {
		t.Errorf("%d pings delivered before Close returned, want 5", got)
	}
	// After Close nothing is sent, and that is counted.
	n.Begin(t0).Finished(result(0, "", "", ""))
	if s := n.Status().Channels[0]; s.Dropped != 1 {
		t.Errorf("after Close: %+v", s)
	}
}

func TestNtfyThroughShoutrrr(t *testing.T) {
	rec := testkit.NewRecorder(t)
	cfg, logs := testConfig(t)
	host := strings.TrimPrefix(rec.URL, "http://")
	cfg.URLs = []string{"ntfy://alerts:ntfy-pa55word@" + host + "/cronbox-alerts?scheme=http"}
	n := start(t, cfg)
	n.Begin(t0).Finished(result(4, "", "", "disk full, password "+jobSecret+"\n"))
	r := waitRequests(t, rec, "/cronbox-alerts", 1)[0]
	if r.Header.Get("Title") != "backup failure on box-1: exit status 4 after 1.5s" {
		t.Errorf("ntfy title %q", r.Header.Get("Title"))
	}
	if !strings.Contains(r.Body, "disk full") || strings.Contains(r.Body, jobSecret) || strings.Contains(r.Body, "ntfy-pa55word") {
		t.Errorf("ntfy body %q", r.Body)
	}
	if r.Header.Get("Authorization") == "" {
		t.Errorf("ntfy's credentials were not used")
	}
	testkit.WaitFor(t, 5*time.Second, "sent counted", func() error {
		if s := n.Status(); s.Channels[0].Sent != 1 || s.Channels[0].Channel != "ntfy" {
			return fmt.Errorf("%+v %+v", s.Channels[0], s.LastError)
		}
		return nil
	})
	if strings.Contains(logs.String(), "ntfy-pa55word") {
		t.Errorf("the ntfy password is in the log:\n%s", logs)
	}
}

func TestMailThroughAiosmtpd(t *testing.T) {
	smtp := testkit.SMTP(t, "mailer", "smtp-pa55word")
	cfg, logs := testConfig(t)
	cfg.URLs = []string{"smtp://mailer:smtp-pa55word@" + smtp.Addr + "/?from=cronbox@example.org&to=ops@example.org,oncall@example.org&fromname=Cron%20Box"}
	cfg.StatusURL = "http://status.example/"
	n := start(t, cfg)
	n.Begin(t0).Finished(result(1, "", "", "upload failed: 403 Forbidden; key "+jobSecret+"\nÜbermaß\n"))
	var mails []testkit.Mail
	testkit.WaitFor(t, 10*time.Second, "a mail", func() error {
		var err error
		if mails, err = smtp.Mails(); err == nil && len(mails) == 0 {
			err = testkit.ErrNotYet
		}
		return err
	})
	m := mails[0]
	if m.MailFrom != "cronbox@example.org" || strings.Join(m.RcptTos, ",") != "ops@example.org,oncall@example.org" || m.Login != "mailer" {
		t.Errorf("envelope %+v", m)
	}
	for _, want := range []string{"Subject: backup failure on box-1: exit status 1 after 1.5s", `From: "Cron Box" <cronbox@example.org>`, "upload failed: 403 Forbidden", "=C3=9Cberma=C3=9F", "http://status.example/"} {
		if !strings.Contains(m.Content, want) {
			t.Errorf("mail lacks %q:\n%s", want, m.Content)
		}
	}
	if strings.Contains(m.Content, jobSecret) || strings.Contains(m.Content, "smtp-pa55word") || strings.Contains(logs.String(), "smtp-pa55word") {
		t.Errorf("a secret is in the mail or the log:\n%s\n%s", m.Content, logs)
	}

	// A wrong password is refused (535): permanent, not retried, visible.
	cfg.URLs = []string{"smtp://mailer:wrong-pa55word@" + smtp.Addr + "/?from=cronbox@example.org&to=ops@example.org"}
	cfg.Retries = 3
	n2 := start(t, cfg)
	n2.Begin(t0).Finished(result(1, "", "", ""))
	testkit.WaitFor(t, 10*time.Second, "the refusal counted", func() error {
		s := n2.Status()
		if s.Channels[0].Failed != 1 || s.LastError == nil {
			return fmt.Errorf("%+v", s)
		}
		if !strings.Contains(s.LastError.Error, "535") || strings.Contains(s.LastError.Error+s.LastError.URL, "wrong-pa55word") {
			return fmt.Errorf("last error %+v", s.LastError)
		}
		return nil
	})
}

func TestHungSMTPServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept() // accepts, never greets
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	cfg, _ := testConfig(t)
	cfg.URLs = []string{"smtp://" + ln.Addr().String() + "/?from=a@b.c&to=d@e.f"}
	cfg.Timeout = 200 * time.Millisecond
	n := start(t, cfg)
	n.Begin(t0).Finished(result(1, "", "", ""))
	testkit.WaitFor(t, 10*time.Second, "the timeout counted", func() error {
		if s := n.Status(); s.Channels[0].Failed != 1 {
			return fmt.Errorf("%+v", s)
		}
		return nil
	})
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg   Config
		field string
		want  string
	}{
		{Config{PingURL: "ftp://hc.example/x"}, "ping-url", "http"},
		{Config{PingURL: "https://"}, "ping-url", "host"},
		{Config{WebhookURL: "hooks.example/x"}, "webhook-url", "http"},
		{Config{WebhookSecret: "k3y-without-url"}, "webhook-secret-file", "without a webhook URL"},
		{Config{URLs: []string{"carrierpigeon://coop/T0KEN1234567"}}, "notify-url", "unknown service"},
		{Config{URLs: []string{"smtp://mail.example/?to=a@b.c"}}, "notify-url", "sender"},
		{Config{URLs: []string{"smtp://mail.example/?from=a@b.c"}}, "notify-url", "recipient"},
		{Config{URLs: []string{"smtp://mail.example/?from=a@b.c&to=x"}}, "notify-url", "to=x"},
		{Config{URLs: []string{"smtp://mail.example/?from=a@b.c&to=d@e.f&encryption=rot13"}}, "notify-url", "encryption"},
		{Config{URLs: []string{"smtp://mail.example/?from=a@b.c&to=d@e.f&colour=red"}}, "notify-url", "colour"},
		{Config{URLs: []string{"ntfy://ntfy.example/?priority=urgentest"}}, "notify-url", "ntfy"},
		{Config{Template: "${JOB} ${NOPE}"}, "notify-template", "NOPE"},
		{Config{Template: "${JOB"}, "notify-template", "1:1"},
		{Config{PingBody: MaxPingBody + 1}, "ping-body-bytes", "100000"},
		{Config{Retries: -1}, "notify-retries", "negative"},
	} {
		err := Check(c.cfg)
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want a %s error naming %q", c.cfg, err, c.field, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "T0KEN1234567") {
			t.Errorf("the error shows the URL's token: %v", err)
		}
	}
	if n, err := New(Config{}); n != nil || err != nil {
		t.Errorf("nothing configured: %v, %v", n, err)
	}
	var n *Notifier // nil does nothing
	n.Start()
	n.Begin(t0).Started()
	n.Begin(t0).Finished(run.Result{})
	n.Close(context.Background())
}

func TestDisplayAndSecrets(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hc-ping.com/0f8a-uuid-1234":                             "https://hc-ping.com/***",
		"https://hc-ping.com/":                                           "https://hc-ping.com/",
		"http://127.0.0.1:8080/hook?token=abc123456":                     "http://127.0.0.1:8080/***?***",
		"smtp://user:pw@mail.example.com:587/?from=a@b&to=c@d":           "smtp://***@mail.example.com:587/?***",
		"discord://T0ken123456789@123456789012345678":                    "discord://***@***",
		"slack://hook:WNA3PBYV6-F20DUQND3RQ-Webc4MAvoacrpPakR8w@webhook": "slack://***@***",
		"ntfy://ntfy.sh/cronbox-alerts":                                  "ntfy://ntfy.sh/***",
		"::not a url":                                                    "(a URL that does not parse)",
	} {
		if got := Display(raw); got != want {
			t.Errorf("Display(%q) = %q, want %q", raw, got, want)
		}
	}
	red := redact.New(nil, nil).With(secretParts("slack://hook:WNA3PBYV6-F20DUQND3RQ-Webc4MAvoacrpPakR8w@webhook")...)
	if got := red.String("channel=webhook err=token WNA3PBYV6-F20DUQND3RQ-Webc4MAvoacrpPakR8w refused"); got != "channel=webhook err=token *** refused" {
		t.Errorf("masked: %q", got)
	}
	red = redact.New(nil, nil).With(secretParts("https://hc-ping.com/0f8a1234-aaaa-bbbb-cccc-1234567890ab")...)
	if got := red.String(`Post "https://hc-ping.com/0f8a1234-aaaa-bbbb-cccc-1234567890ab/start?rid=x"`); strings.Contains(got, "0f8a1234") {
		t.Errorf("masked: %q", got)
	}
}

func TestTemplate(t *testing.T) {
	tm, err := parseTemplate("${JOB}: ${EVENT}\n${STDERR}\nstatus: ${STATUS_URL:-none}\n${STATUS_URL}\nplain line\n")
	if err != nil {
		t.Fatal(err)
	}
	got := tm.render(map[string]string{"JOB": "j", "EVENT": "failure", "STDERR": "", "STATUS_URL": ""})
	if want := "j: failure\nstatus: none\nplain line"; got != want {
		t.Errorf("render %q, want %q", got, want)
	}
	got = tm.render(map[string]string{"JOB": "j", "EVENT": "failure", "STDERR": "a ${X}\nb", "STATUS_URL": "http://s"})
	if want := "j: failure\na ${X}\nb\nstatus: http://s\nhttp://s\nplain line"; got != want {
		t.Errorf("render %q, want %q", got, want)
	}
	if _, err := ParseEvents("failure,bogus"); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("ParseEvents: %v", err)
	}
	if got := lastLines(strings.Repeat("line\n", 50)); strings.Count(got, "\n") != messageLines-1 {
		t.Errorf("lastLines kept %d lines", strings.Count(got, "\n")+1)
	}
}
