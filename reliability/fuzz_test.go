package reliability

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"cronbox/es-snapshot/esclient"
	"cronbox/go-cron/redact"
	"cronbox/go-cron/run"
	"cronbox/go-cron/schedule"
	"cronbox/go-cron/status"
	"cronbox/jobresult"
)

// FuzzSchedule: go-cron's schedule parser never panics; what it accepts
// fires strictly later than now, in order; what it refuses is a
// *schedule.Error with a message.
func FuzzSchedule(f *testing.F) {
	for _, s := range []string{"0/10 * * * * *", "*/5 * * * *", "@hourly", "@every 10s", "CRON_TZ=Europe/Paris 0 0 3 * * *",
		"TZ=UTC @daily", "0 0 30 2 *", "61 * * * * *", "@every -5s", "* * *", "", "CRON_TZ= * * * * *", "0 0 0 1 1 MON-FRI", "@yearly", "1-59/7,3 * * ? * SUN"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, text string) {
		s, err := schedule.Parse(text, time.UTC)
		if err != nil {
			var se *schedule.Error
			if !errorsAs(err, &se) || err.Error() == "" {
				t.Fatalf("Parse(%q): error %T %q is not a *schedule.Error with a message", text, err, err)
			}
			return
		}
		prev := now
		for _, next := range schedule.NextN(s, now, 3) {
			if !next.After(prev) {
				t.Fatalf("Parse(%q): fire time %s not after %s", text, next, prev)
			}
			prev = next
		}
	})
}

// FuzzStatusHandler: any method, path and headers get an answer without a
// panic; a secret (from the environment, in the run's output, the command
// and the version) never shows in any answer, the page included; any path
// and method but the named routes (GETs) is the contract's JSON (503: the
// run failed), or the page when the client asks for HTML.
func FuzzStatusHandler(f *testing.F) {
	const secret = "fuzz-canary-Secret-0123456789"
	f.Add("GET", "/", "Accept", "application/json")
	f.Add("GET", "/metrics", "", "")
	f.Add("GET", "/healthz", "X-Forwarded-For", "1.2.3.4")
	f.Add("HEAD", "/", "", "")
	f.Add("POST", "/", "Content-Type", "text/plain")
	f.Add("GET", "/%2e%2e/etc/passwd", "", "")
	f.Add("DELETE", "//metrics?x=1", "Range", "bytes=0-1")
	f.Add("GET", "/?"+secret, "Cookie", secret)
	f.Add("GET", "/status", "", "")
	f.Add("GET", "/health", "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	f.Add("GET", "/api/runs", "", "")
	f.Add("GET", "/healthz/", "Accept", "*/*")
	f.Add("GET", "/?format=html", "Accept", "application/json;q=0.5, text/html;q=0.4")
	red := redact.New([]string{"AWS_SECRET_ACCESS_KEY=" + secret}, strings.Split(redact.DefaultPatterns, ","))
	report, _, err := jobresult.Parse([]byte(`{"location":"s3://b/`+secret+`","size":5,"message":"`+secret+`"}`), red.String)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, hk, hv string) {
		st := status.New(status.Config{Schedule: "@hourly", Command: []string{"sh", "-c", "echo " + secret},
			History: 3, Version: "v-" + secret, Now: time.Now, Redactor: red})
		start := time.Now()
		st.Finished(run.Result{Pid: 41, Start: start.Add(-time.Hour), End: start.Add(-time.Hour),
			Report: report, Stdout: red.String("saved " + secret)})
		live := run.NewOutput(1024, red)
		live.Stdout.Write([]byte("uploading with " + secret))
		st.Started(42, start, live)
		// run masks the output tails before they reach the state (the
		// end-to-end canary test covers that); the rest is status's job.
		st.Finished(run.Result{Pid: 42, Start: start, End: start.Add(time.Second), ExitStatus: 1,
			Stdout: red.String("out " + secret), Stderr: red.String("gof3r: put failed for " + secret), Error: secret})
		h := st.Handler()
		u := &url.URL{Path: path}
		req := &http.Request{Method: method, URL: u, Header: http.Header{}, RequestURI: path, Host: "x", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: http.NoBody}
		if hk != "" {
			req.Header[hk] = []string{hv}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		// A secret the client sent itself may come back (a redirect's
		// Location echoes the path); only the server's own secrets count.
		fromClient := strings.Contains(method+path+hk+hv, secret)
		if !fromClient && strings.Contains(body, secret) {
			t.Fatalf("%s %q: the secret is in the answer: %s", method, path, body)
		}
		for k, vs := range rec.Header() {
			for _, v := range vs {
				if !fromClient && strings.Contains(k+v, secret) {
					t.Fatalf("%s %q: the secret is in header %s", method, path, k)
				}
			}
		}
		// Every path but the named routes is the status (as the original
		// go-cron served it): JSON unless the client asks for the page.
		route := (method == "GET" || method == "HEAD") && (path == status.PathHealthz || path == status.PathMetrics || path == status.PathRuns)
		statusPath := strings.HasPrefix(path, "/") && !route
		if method != "HEAD" && statusPath && rec.Code/100 != 3 && !status.WantsHTML(req) {
			if rec.Code != 503 {
				t.Fatalf("GET / after a failed run: %d, want 503", rec.Code)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatalf("GET /: not JSON: %v", err)
			}
			for _, k := range []string{"Running", "Last", "Schedule"} {
				if _, ok := m[k]; !ok {
					t.Fatalf("GET /: no %q key", k)
				}
			}
		}
		if rec.Code >= 500 && !statusPath {
			t.Fatalf("%s %q: %d", method, path, rec.Code)
		}
	})
}

// FuzzESDecode: the ES/OpenSearch answer decoders never panic, and no
// decoded snapshot that is PARTIAL, FAILED or has a failed shard counts as
// good.
func FuzzESDecode(f *testing.F) {
	for _, s := range []string{
		`{"snapshots":[{"snapshot":"s1","uuid":"u","state":"SUCCESS","indices":["i"],"shards":{"total":1,"failed":0,"successful":1},"failures":[]}]}`,
		`{"snapshots":[{"snapshot":"s2","state":"PARTIAL","shards":{"total":2,"failed":1,"successful":1},"failures":[{"index":"i","shard_id":0,"reason":"x"}]}]}`,
		`{"responses":[{"repository":"r","snapshots":[{"snapshot":"s","state":"SUCCESS"}]}]}`,
		`{"snapshots":[{"snapshot":"s","state":"SUCCESS","failures":[{"index":"i","shard_id":"1","reason":"r"}]}]}`,
		`{"snapshots":[{"snapshot":"s","state":"IN_PROGRESS","start_time_in_millis":1700000000000,"index_details":{"i":{"size_in_bytes":5}}}]}`,
		`{"snapshots":[{"state":"success"}]}`, `{"snapshots":null}`, `[]`, `null`, `{`, ``,
		`{"name":"n","cluster_name":"c","version":{"distribution":"opensearch","number":"2.19.6"},"tagline":"The OpenSearch Project"}`,
		`{"version":{"number":"7.10.2","build_flavor":"oss"},"tagline":"You Know, for Search"}`,
		`{"snapshots":[{"snapshot":"s","repository":"r","uuid":"u","state":"STARTED","shards":[{"stage":"STARTED"}],"stats":{"total":{"size_in_bytes":10},"processed":{"size_in_bytes":3}}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if snaps, err := esclient.ParseSnapshots(b); err == nil {
			for _, s := range snaps {
				if s.Good() && (s.State != esclient.StateSuccess || s.Shards.Failed != 0 || len(s.Failures) != 0) {
					t.Fatalf("snapshot %+v counts as good", s)
				}
				_ = s.FailureSummary()
				_ = s.Size()
				_ = s.Duration(time.Now())
			}
		}
		if sts, err := esclient.ParseStatus(b); err == nil {
			for _, s := range sts {
				if d, tot := s.DoneBytes(), s.TotalBytes(); d < 0 || tot < 0 {
					_ = d // negative sizes come only from a broken server; decoding must not panic
				}
			}
		}
		if v, err := esclient.ParseInfo(b); err == nil {
			_ = v.String()
			_ = v.Supported()
			_ = v.MultiDelete()
		}
	})
}
