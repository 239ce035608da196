package status

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cronbox/go-cron/redact"
	"cronbox/go-cron/run"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var t0 = time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)

func get(t *testing.T, s *State, path string) (int, map[string]any, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	var m map[string]any
	if path == "/" {
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("GET /: %v: %s", err, rec.Body)
		}
	}
	return rec.Code, m, rec.Body.String()
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

func TestStatusCodesAndKeys(t *testing.T) {
	seedLast := []string{"Exit_status", "ExitTime", "Pid", "StartingTime", "Stderr", "Stdout"}
	ok := run.Result{Pid: 10, Start: t0.Add(time.Minute), End: t0.Add(time.Minute + time.Second), Stdout: "fine\n"}
	for _, tc := range []struct {
		name   string
		events func(s *State, c *fakeClock)
		code   int
		health string
		check  func(t *testing.T, m map[string]any)
	}{
		{"never ran", func(s *State, c *fakeClock) {}, 200, "ok", nil},
		{"never ran, first fire plus max age passed", func(s *State, c *fakeClock) {
			c.set(t0.Add(time.Minute + time.Hour + time.Second))
		}, 503, "stale: no successful run", nil},
		{"success", func(s *State, c *fakeClock) {
			s.Started(10, ok.Start, nil)
			s.Finished(ok)
			c.set(ok.End)
		}, 200, "ok", func(t *testing.T, m map[string]any) {
			last := m["Last"].(map[string]any)
			if last["Exit_status"] != 0.0 || last["Stdout"] != "fine\n" || last["Pid"] != 10.0 ||
				last["StartingTime"] != "2026-11-27T13:01:00Z" || last["ExitTime"] != "2026-11-27T13:01:01Z" {
				t.Errorf("Last = %v", last)
			}
		}},
		{"success, then stale", func(s *State, c *fakeClock) {
			s.Finished(ok)
			c.set(ok.End.Add(time.Hour + time.Second))
		}, 503, "stale: last success", nil},
		{"failure", func(s *State, c *fakeClock) {
			s.Finished(run.Result{Pid: 11, Start: t0, End: t0, ExitStatus: 3})
		}, 503, "last run failed: exit status 3", nil},
		{"killed by signal", func(s *State, c *fakeClock) {
			s.Finished(run.Result{Pid: 12, Start: t0, End: t0, ExitStatus: 137, Signal: "SIGKILL"})
		}, 503, "last run failed: killed by SIGKILL", func(t *testing.T, m map[string]any) {
			if l := m["Last"].(map[string]any); l["Signal"] != "SIGKILL" || l["Exit_status"] != 137.0 {
				t.Errorf("Last = %v", l)
			}
		}},
		{"running", func(s *State, c *fakeClock) {
			s.Started(42, t0.Add(time.Minute), nil)
		}, 200, "ok", func(t *testing.T, m map[string]any) {
			r := m["Running"].(map[string]any)
			if e, ok := r["42"].(map[string]any); !ok || e["Pid"] != 42.0 || e["StartingTime"] != "2026-11-27T13:01:00Z" {
				t.Errorf("Running = %v", r)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{t: t0}
			s := New(Config{Schedule: "0 * * * * *", MaxAge: time.Hour, History: 2, Now: c.Now})
			s.Scheduled(t0.Add(time.Minute))
			tc.events(s, c)
			code, m, _ := get(t, s, "/")
			if code != tc.code || !strings.HasPrefix(m["Health"].(string), tc.health) {
				t.Errorf("code %d health %q, want %d %q", code, m["Health"], tc.code, tc.health)
			}
			for _, k := range []string{"Running", "Last", "Schedule"} {
				if _, ok := m[k]; !ok {
					t.Errorf("key %s missing: %v", k, keys(m))
				}
			}
			last := m["Last"].(map[string]any)
			for _, k := range seedLast {
				if _, ok := last[k]; !ok {
					t.Errorf("Last.%s missing: %v", k, keys(last))
				}
			}
			if m["Schedule"] != "0 * * * * *" || m["NextRun"] != "2026-11-27T13:01:00Z" {
				t.Errorf("Schedule %v NextRun %v", m["Schedule"], m["NextRun"])
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

func TestHistoryAndMetrics(t *testing.T) {
	c := &fakeClock{t: t0}
	s := New(Config{Schedule: "@every 1s", History: 2, Now: c.Now, Version: "v1"})
	s.Finished(run.Result{Pid: 1, Start: t0, End: t0.Add(200 * time.Millisecond)})
	s.Finished(run.Result{Pid: 2, Start: t0, End: t0.Add(2 * time.Hour), ExitStatus: 1})
	s.Finished(run.Result{Pid: 3, Start: t0, End: t0.Add(time.Second), ExitStatus: 143, Signal: "SIGTERM", TimedOut: true})
	s.Finished(run.Result{Start: t0, End: t0, ExitStatus: 127, Error: "start x: not found"})
	s.Skipped("overlap")
	s.Skipped("overlap")
	s.Started(9, t0, nil)
	_, m, _ := get(t, s, "/")
	h := m["History"].([]any)
	if len(h) != 2 || h[0].(map[string]any)["Result"] != "error" || h[1].(map[string]any)["Pid"] != 3.0 {
		t.Errorf("History = %v", h)
	}
	code, _, text := get(t, s, "/metrics")
	for _, want := range []string{
		`gocron_runs_total{result="success"} 1`,
		`gocron_runs_total{result="failure"} 1`,
		`gocron_runs_total{result="signal"} 1`,
		`gocron_runs_total{result="error"} 1`,
		`gocron_run_timeouts_total 1`,
		`gocron_skipped_total{reason="overlap"} 2`,
		`gocron_run_duration_seconds_bucket{le="0.1"} 0`,
		`gocron_run_duration_seconds_bucket{le="0.5"} 1`,
		`gocron_run_duration_seconds_bucket{le="1"} 2`,
		`gocron_run_duration_seconds_bucket{le="3600"} 2`,
		`gocron_run_duration_seconds_bucket{le="7200"} 3`,
		`gocron_run_duration_seconds_bucket{le="+Inf"} 3`,
		`gocron_run_duration_seconds_count 3`,
		`gocron_last_success_timestamp_seconds 1795784400.200`,
		`gocron_last_failure_timestamp_seconds 1795784400.000`,
		`gocron_running 1`,
		`gocron_healthy 0`,
		`# TYPE gocron_run_duration_seconds histogram`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	if code != 200 {
		t.Errorf("/metrics: %d", code)
	}
	if code, _, body := get(t, s, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
}

func TestSecretsNeverServed(t *testing.T) {
	pats, _ := redact.ParsePatterns(redact.DefaultPatterns)
	red := redact.New([]string{"MY_TOKEN=canary-secret-1"}, pats)
	s := New(Config{Schedule: "@hourly", Command: []string{"sh", "-c", "echo canary-secret-1"}, Version: "canary-secret-1", Redactor: red})
	s.Finished(run.Result{Pid: 1, ExitStatus: 127, Error: "start canary-secret-1: not found"})
	for _, p := range []string{"/", "/metrics"} {
		if _, _, body := get(t, s, p); strings.Contains(body, "canary") {
			t.Errorf("%s serves the secret:\n%s", p, body)
		}
	}
}

// Other parts (the etcd lock) add their own key and may make GET / fail.
func TestSections(t *testing.T) {
	s := New(Config{Schedule: "@hourly"})
	s.Finished(run.Result{Pid: 1, Stdout: "ok\n"})
	s.SetSection("Lock", map[string]any{"Holder": "cronbox-2"}, "")
	s.SetSection("Last", "must not replace the seed key", "")
	code, m, _ := get(t, s, "/")
	if code != 200 || m["Lock"].(map[string]any)["Holder"] != "cronbox-2" {
		t.Errorf("%d %v", code, m)
	}
	if last, ok := m["Last"].(map[string]any); !ok || last["Stdout"] != "ok\n" {
		t.Errorf("Last = %v", m["Last"])
	}
	s.SetSection("Lock", map[string]any{"Holder": ""}, "cannot reach etcd")
	code, m, _ = get(t, s, "/")
	if code != 503 || m["Health"] != "Lock: cannot reach etcd" {
		t.Errorf("%d %v", code, m["Health"])
	}
	if _, _, text := get(t, s, "/metrics"); !strings.Contains(text, "gocron_healthy 0\n") {
		t.Errorf("metrics say healthy")
	}
}
