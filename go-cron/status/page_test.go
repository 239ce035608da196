package status

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cronbox/go-cron/redact"
	"cronbox/go-cron/run"
	"cronbox/jobresult"
)

// goldenEvents is the state testdata/status-before-page.json was taken
// from, with the go-cron of the commit before the page (080bc0e).
func goldenEvents(c *fakeClock) *State {
	s := New(Config{Schedule: "0 0 * * * *", Command: []string{"sh", "-c", "echo a > b && c"}, MaxAge: 2 * time.Hour, History: 3, Version: "v1.2.3", Now: c.Now})
	s.Scheduled(t0.Add(2 * time.Hour))
	s.Finished(run.Result{Pid: 10, Start: t0, End: t0.Add(1500 * time.Millisecond), Stdout: "one\n", Stderr: "warn\n"})
	s.Finished(run.Result{Pid: 11, Start: t0.Add(time.Minute), End: t0.Add(2 * time.Minute), ExitStatus: 143, Signal: "SIGTERM", TimedOut: true, Stdout: "two\n"})
	s.Finished(run.Result{Pid: 12, Start: t0.Add(3 * time.Minute), End: t0.Add(3*time.Minute + 2*time.Second), Stdout: "three <&>\n"})
	s.Skipped("overlap")
	return s
}

// curl keeps getting today's JSON byte for byte; the one key added is
// LastGood, at the end.
func TestJSONAsBeforeThePage(t *testing.T) {
	want, err := os.ReadFile("testdata/status-before-page.json")
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeClock{t: t0.Add(time.Hour)}
	s := goldenEvents(c)
	for _, path := range []string{"/", "/status", "/health"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Accept", "*/*") // curl
		s.Handler().ServeHTTP(rec, req)
		got := rec.Body.String()
		i := strings.Index(got, ",\n  \"LastGood\": {")
		if i < 0 || rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %s, no LastGood:\n%s", path, rec.Code, rec.Header().Get("Content-Type"), got)
		}
		if before := got[:i] + "\n}\n"; before != string(want) {
			t.Errorf("GET %s without LastGood differs from before the page:\n%s\nwant:\n%s", path, before, want)
		}
		var m struct{ LastGood lastGoodJSON }
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if g := m.LastGood; g.Pid != 12 || g.Age != "56m58s" || g.AgeSeconds != 3418 || g.Stdout != "" || g.Result != "success" {
			t.Errorf("LastGood %+v", g)
		}
	}
}

// Issue 14 item 5: the status on every path but the named routes, with the
// same codes, and with any method, as the original go-cron served it.
func TestEveryPathServesTheStatus(t *testing.T) {
	c := &fakeClock{t: t0}
	s := New(Config{Schedule: "@hourly", History: 2, Now: c.Now})
	s.Finished(run.Result{Pid: 3, Start: t0, End: t0, ExitStatus: 2})
	for _, tc := range []struct {
		method, path string
		code         int
		ctype        string
	}{
		{"GET", "/", 503, "application/json"},
		{"GET", "/status", 503, "application/json"},
		{"GET", "/health", 503, "application/json"},
		{"GET", "/deep/er/path?x=1", 503, "application/json"},
		{"GET", "/healthz/", 503, "application/json"},
		{"HEAD", "/status", 503, "application/json"},
		{"GET", "/healthz", 200, "text/plain; charset=utf-8"},
		{"GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8"},
		{"GET", "/api/runs", 200, "application/json"},
		{"POST", "/", 503, "application/json"}, // any method, as the original
		{"DELETE", "/status", 503, "application/json"},
		{"POST", "/metrics", 503, "application/json"}, // the routes are GETs
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.code || (tc.ctype != "" && rec.Header().Get("Content-Type") != tc.ctype) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.code, tc.ctype)
		}
		if tc.ctype == "application/json" && tc.method != "HEAD" {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Errorf("%s: %v", tc.path, err)
			}
			if _, ok := m["Last"]; !ok && tc.path != "/api/runs" {
				t.Errorf("%s: no Last", tc.path)
			}
		}
	}
}

func TestWantsHTML(t *testing.T) {
	for _, tc := range []struct {
		accept, query string
		html          bool
	}{
		{"", "", false},
		{"*/*", "", false}, // curl
		{"application/json", "", false},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7", "", true}, // Chromium
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "", true},                                                                         // Firefox
		{"text/html, application/json", "", false}, // a tie goes to JSON
		{"application/json;q=0.5, text/html", "", true},
		{"text/html;q=0", "", false},
		{"TEXT/HTML", "", true},
		{"text/plain", "", false},
		{"*/*", "format=html", true},
		{"text/html", "format=json", false},
	} {
		req := httptest.NewRequest("GET", "/?"+tc.query, nil)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		if got := WantsHTML(req); got != tc.html {
			t.Errorf("Accept %q ?%s: html %v, want %v", tc.accept, tc.query, got, tc.html)
		}
	}
}

type fakeLive struct {
	mu       sync.Mutex
	out, err string
}

func (f *fakeLive) Tails() (string, string) { f.mu.Lock(); defer f.mu.Unlock(); return f.out, f.err }
func (f *fakeLive) Written() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.out) + len(f.err))
}
func (f *fakeLive) add(s string) { f.mu.Lock(); f.out += s; f.mu.Unlock() }

// Issue 14 item 6: Running[pid] carries the output so far; new output shows
// within liveEvery even while the answer is cached.
func TestRunningShowsLiveOutput(t *testing.T) {
	c := &fakeClock{t: t0}
	s := New(Config{Schedule: "@hourly", Now: c.Now})
	live := &fakeLive{out: "step 1\n", err: "warn\n"}
	s.Started(42, t0, live)
	running := func() runningJSON {
		var m struct{ Running map[string]runningJSON }
		b, _ := s.Body()
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m.Running["42"]
	}
	if r := running(); r.Pid != 42 || r.Stdout != "step 1\n" || r.Stderr != "warn\n" || r.StartingTime != "2026-11-27T13:00:00Z" {
		t.Fatalf("Running %+v", r)
	}
	live.add("step 2\n")
	c.set(t0.Add(liveEvery / 2))
	if r := running(); r.Stdout != "step 1\n" {
		t.Errorf("renewed before liveEvery: %q", r.Stdout)
	}
	c.set(t0.Add(liveEvery))
	if r := running(); r.Stdout != "step 1\nstep 2\n" {
		t.Errorf("not renewed after liveEvery: %q", r.Stdout)
	}
	s.Finished(run.Result{Pid: 42, Start: t0, End: c.Now(), Stdout: "step 1\nstep 2\n"})
	if b, _ := s.Body(); strings.Contains(string(b), `"42": {`) {
		t.Errorf("still running:\n%s", b)
	}
}

func report(t *testing.T, js string) json.RawMessage {
	t.Helper()
	raw, _, err := jobresult.Parse([]byte(js), nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// LastGood is the last success and what it reported, however many failures
// came after; /metrics has its time and size.
func TestLastGood(t *testing.T) {
	c := &fakeClock{t: t0}
	s := New(Config{Schedule: "@hourly", History: 5, Now: c.Now})
	lastGood := func() *lastGoodJSON {
		var m struct{ LastGood *lastGoodJSON }
		b, _ := s.Body()
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m.LastGood
	}
	if g := lastGood(); g != nil {
		t.Fatalf("LastGood before any run: %+v", g)
	}
	if b, _ := s.Body(); !strings.Contains(string(b), `"LastGood": null`) {
		t.Errorf("want LastGood null:\n%s", b)
	}
	s.Finished(run.Result{Pid: 1, Start: t0, End: t0.Add(2 * time.Second),
		Report: report(t, `{"location":"s3://b/etcd-backup/20261127T130000Z.db","size":123456,"sha256":"ab","extra":[1]}`)})
	s.Finished(run.Result{Pid: 2, Start: t0.Add(time.Hour), End: t0.Add(time.Hour + time.Second), ExitStatus: 1,
		Report: report(t, `{"message":"half"}`)})
	c.set(t0.Add(90 * time.Minute))
	g := lastGood()
	if g == nil || g.Pid != 1 || g.AgeSeconds != 5398 || g.Age != "1h29m58s" ||
		compact(g.Report) != `{"extra":[1],"location":"s3://b/etcd-backup/20261127T130000Z.db","sha256":"ab","size":123456}` {
		t.Fatalf("LastGood %+v %s", g, g.Report)
	}
	// The age moves with the clock though nothing else changed.
	c.set(t0.Add(90*time.Minute + 3*time.Second))
	if g := lastGood(); g.AgeSeconds != 5401 {
		t.Errorf("age %d", g.AgeSeconds)
	}
	_, _, text := get(t, s, "/metrics")
	for _, want := range []string{
		"gocron_last_good_backup_timestamp_seconds 1795784402.000\n",
		"gocron_last_good_backup_size_bytes 123456\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	// With the lock, a later success on another replica is the last good one.
	s.SetShared(Shared{Reachable: true, Last: &run.Record{Result: run.Result{Pid: 7, Start: t0.Add(80 * time.Minute), End: t0.Add(81 * time.Minute),
		Report: report(t, `{"location":"s3://b/other","size":99}`)}, Instance: "pod-b", Outcome: "done"}})
	if g := lastGood(); g.Pid != 7 || g.Instance != "" || !strings.Contains(string(g.Report), "s3://b/other") {
		t.Errorf("shared LastGood %+v", g)
	}
	if _, _, text := get(t, s, "/metrics"); !strings.Contains(text, "gocron_last_good_backup_size_bytes 99\n") {
		t.Errorf("metrics:\n%s", text)
	}
	page := pageOf(t, s)
	if !strings.Contains(page, "pod-b") || !strings.Contains(page, "s3://b/other") {
		t.Errorf("the page does not show the shared last good run:\n%s", page)
	}
}

func TestAPIRuns(t *testing.T) {
	c := &fakeClock{t: t0}
	s := New(Config{Schedule: "@hourly", History: 2, Now: c.Now})
	long := strings.Repeat("line of output\n", 1000)
	s.Finished(run.Result{Pid: 1, Start: t0, End: t0, Stdout: "old\n"})
	s.Finished(run.Result{Pid: 2, Start: t0, End: t0, ExitStatus: 3, Stderr: "bad\n", ReportError: "GOCRON_RESULT_FILE: not JSON"})
	s.Finished(run.Result{Pid: 3, Start: t0, End: t0, Stdout: long, Report: report(t, `{"size":5}`)})
	_, _, text := get(t, s, PathRuns)
	var m struct{ Runs []lastJSON }
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Runs) != 2 || m.Runs[0].Pid != 3 || m.Runs[1].Pid != 2 {
		t.Fatalf("runs %+v", m.Runs)
	}
	if r := m.Runs[0]; len(r.Stdout) > HistoryTail || !strings.HasPrefix(r.Stdout, "line of output\n") || !strings.HasSuffix(long, r.Stdout) || compact(r.Report) != `{"size":5}` {
		t.Errorf("newest: %d bytes of stdout starting %q, report %s", len(r.Stdout), r.Stdout[:20], r.Report)
	}
	if r := m.Runs[1]; r.Stderr != "bad\n" || r.Result != "failure" || r.ReportError == "" {
		t.Errorf("older: %+v", r)
	}
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return err.Error()
	}
	return b.String()
}

func pageOf(t *testing.T, s *State) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept", "text/html,*/*;q=0.8")
	s.Handler().ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	return rec.Body.String()
}

var tags = regexp.MustCompile(`<[^>]*>`)

// text is what a person reads in the element with id (roughly: tags out).
func textOf(page, id string) string {
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	rest := page[i:]
	end := strings.Index(rest, "</p>")
	if end < 0 {
		end = len(rest)
	}
	return strings.TrimSpace(tags.ReplaceAllString(rest[strings.IndexByte(rest, '>')+1:end], ""))
}

// The page in its states: what a person reads first, escaped, no secret.
func TestPage(t *testing.T) {
	pats, _ := redact.ParsePatterns(redact.DefaultPatterns)
	red := redact.New([]string{"S3_SECRET=page-canary-42"}, pats)
	newState := func(c *fakeClock) *State {
		s := New(Config{Schedule: "0 0 3 * * *", Command: []string{"sh", "-c", "backup <all> & echo page-canary-42"},
			History: 3, MaxAge: 26 * time.Hour, Version: "v9", Now: c.Now, Redactor: red})
		s.Describe("6 fields, seconds first", time.UTC, func(t time.Time, n int) []time.Time {
			out := make([]time.Time, n)
			for i := range out {
				out[i] = t.Truncate(24 * time.Hour).Add(time.Duration(i+1)*24*time.Hour + 3*time.Hour)
			}
			return out
		})
		s.Scheduled(t0.Add(14 * time.Hour))
		return s
	}
	good := report(t, `{"kind":"etcd-snapshot","location":"s3://b/etcd-backup/20261127T030000Z.db","size":1572864,"sha256":"9f86d0","verified":true,"compressed":"zstd","etcd":{"revision":42,"member_id":"8e9e","version":"3.7.3"}}`)
	for _, tc := range []struct {
		name   string
		events func(s *State, c *fakeClock)
		code   int
		health string
		good   string // substring of the last good summary
		rows   int
	}{
		{"never ran", func(*State, *fakeClock) {}, 200, "Healthy: no run has finished yet", "None yet", 0},
		{"success", func(s *State, c *fakeClock) {
			s.Finished(run.Result{Pid: 5, Start: t0, End: t0.Add(3 * time.Second), Stdout: "saved <ok>\n", Report: good})
			c.set(t0.Add(5*time.Minute + 3*time.Second))
		}, 200, "Healthy: the last run succeeded 5 min ago", "s3://b/etcd-backup/20261127T030000Z.db", 1},
		{"failure after success", func(s *State, c *fakeClock) {
			s.Finished(run.Result{Pid: 5, Start: t0, End: t0.Add(3 * time.Second), Report: good})
			s.Finished(run.Result{Pid: 6, Start: t0.Add(time.Hour), End: t0.Add(time.Hour), ExitStatus: 3, Stderr: red.String("upload page-canary-42 failed\n")})
			c.set(t0.Add(2 * time.Hour))
		}, 503, "Unhealthy: last run failed: exit status 3", "s3://b/etcd-backup/20261127T030000Z.db", 2},
		{"running", func(s *State, c *fakeClock) {
			s.Started(9, t0, &fakeLive{out: red.String("uploading page-canary-42 <1/3>\n")})
			c.set(t0.Add(12 * time.Second))
		}, 200, "Healthy: the first run is going", "None yet", 0},
		{"stale", func(s *State, c *fakeClock) {
			s.Finished(run.Result{Pid: 5, Start: t0, End: t0, Report: report(t, `{"message":"no location"}`)})
			c.set(t0.Add(27 * time.Hour))
		}, 503, "Unhealthy: stale: last success 2026-11-27T13:00:00Z is older than max age 26h0m0s", "Reported, without a location", 1},
		{"locked elsewhere", func(s *State, c *fakeClock) {
			s.SetSection("Lock", map[string]any{"Holder": "pod-<b>", "Etcd": "reachable"}, "")
		}, 200, "Healthy: no run has finished yet", "None yet", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{t: t0}
			s := newState(c)
			tc.events(s, c)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/anything", nil)
			req.Header.Set("Accept", "text/html")
			s.Handler().ServeHTTP(rec, req)
			page := rec.Body.String()
			if rec.Code != tc.code {
				t.Errorf("code %d, want %d", rec.Code, tc.code)
			}
			if got := textOf(page, "health"); got != tc.health {
				t.Errorf("health line %q, want %q", got, tc.health)
			}
			if got := textOf(page, "good-summary"); !strings.Contains(got, tc.good) {
				t.Errorf("last good %q, want %q", got, tc.good)
			}
			if got := strings.Count(page, "<tr><td"); got != tc.rows {
				t.Errorf("%d rows, want %d", got, tc.rows)
			}
			if strings.Contains(page, "page-canary-42") {
				t.Errorf("the page shows the secret")
			}
			for _, raw := range []string{"<all>", "<ok>", "<1/3>", "pod-<b>"} {
				if strings.Contains(page, raw) {
					t.Errorf("unescaped %q on the page", raw)
				}
			}
			if !strings.Contains(page, "backup &lt;all&gt; &amp; echo ***") {
				t.Errorf("command not shown escaped and masked")
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-") || rec.Header().Get("Vary") != "Accept" {
				t.Errorf("headers %v", rec.Header())
			}
		})
	}
}

func TestPlain(t *testing.T) {
	var v any
	json.Unmarshal([]byte(`{"Channels":[{"Channel":"webhook","Sent":2,"Failed":0}],"FailOpen":false,"Events":["failure","stale"],"None":null}`), &v)
	m := v.(map[string]any)
	for k, want := range map[string]string{
		"Channels": "Channel webhook, Failed 0, Sent 2", "FailOpen": "no", "Events": "failure; stale", "None": "",
	} {
		if got := plain(m[k]); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}

func TestCutTail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"one\ntwo\nthree\n", 9, "three\n"},
		{"abcdefghij", 4, "ghij"},
		{"ééééé", 5, "éé"}, // no half character
		{"xx\n", 2, "x\n"},
	} {
		if got := cutTail(tc.in, tc.n); got != tc.want {
			t.Errorf("cutTail(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestHumanUnits(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{duration(850 * time.Millisecond), "850 ms"},
		{duration(12300 * time.Millisecond), "12.3 s"},
		{duration(4*time.Minute + 5*time.Second), "4 min 5 s"},
		{duration(2*time.Hour + 5*time.Minute), "2 h 5 min"},
		{duration(76 * time.Hour), "3 d 4 h"},
		{ago(59 * time.Second), "59 s ago"},
		{ago(300 * time.Millisecond), "just now"},
		{until(90 * time.Second), "in 1 min 30 s"},
		{bytesize(512), "512 B"},
		{bytesize(1572864), "1.5 MiB"},
		{bytesize(5 << 40), "5.0 TiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// An incremental backup's result carries its chain: the status shows the
// recovery point (the newest revision covered and its age), on the page,
// in LastGood and in /metrics.
func TestRecoveryPoint(t *testing.T) {
	c := &fakeClock{t: t0}
	s := New(Config{Schedule: "@every 10s", History: 5, Now: c.Now})
	s.Finished(run.Result{Pid: 3, Start: t0, End: t0.Add(time.Second), Report: report(t, `{"kind":"etcd-delta","location":"s3://b/p/delta/000000000101-000000000250.20261127T130000.500Z.delta",
		"chain":{"full":"s3://b/p/20261127T120000.000Z.db","full_time":"2026-11-27T12:00:00Z","full_revision":100,"deltas":42,"delta_bytes":2097152,"revision":250,"time":"2026-11-27T13:00:00.5Z"}}`)})
	c.set(t0.Add(12 * time.Second))
	var m struct{ LastGood *lastGoodJSON }
	b, _ := s.Body()
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if g := m.LastGood; g == nil || g.RecoveryPoint != "2026-11-27T13:00:00Z" || g.RecoveryPointAgeSeconds == nil || *g.RecoveryPointAgeSeconds != 11 || g.RecoveryPointAge != "11s" {
		t.Fatalf("LastGood %+v", m.LastGood)
	}
	page := pageOf(t, s)
	for _, want := range []string{"42 deltas since (2.0 MiB)", "s3://b/p/20261127T120000.000Z.db", `<span id="recovery-point">revision 250, read `} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if _, _, text := get(t, s, "/metrics"); !strings.Contains(text, "gocron_recovery_point_timestamp_seconds 1795784400.500\n") {
		t.Errorf("metrics:\n%s", text)
	}
	// A plain backup's result has no chain, and LastGood no recovery point.
	s.Finished(run.Result{Pid: 4, Start: t0.Add(time.Minute), End: t0.Add(time.Minute + time.Second), Report: report(t, `{"location":"s3://b/x.db"}`)})
	if b, _ := s.Body(); strings.Contains(string(b), "RecoveryPoint") {
		t.Errorf("a plain result shows a recovery point:\n%s", b)
	}
}
