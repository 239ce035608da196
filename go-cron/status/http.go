package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"cronbox/go-cron/run"
)

// lastJSON is one run under the seed keys (spelled as the original go-cron
// spelled them; monitors parse them) and a few added ones.
type lastJSON struct {
	Exit_status  int //nolint:revive // contract spelling
	Stdout       string
	Stderr       string
	ExitTime     string
	Pid          int
	StartingTime string
	Signal       string `json:",omitempty"`
	TimedOut     bool   `json:",omitempty"`
	Stopped      bool   `json:",omitempty"`
	Error        string `json:",omitempty"`
	Result       string `json:",omitempty"`
	Duration     string `json:",omitempty"`
	// With --lock-etcd: the replica that ran the shared last run, its slot,
	// and "lost" when that replica died mid-run.
	Instance string `json:",omitempty"`
	Slot     string `json:",omitempty"`
	Outcome  string `json:",omitempty"`
}

type runningJSON struct {
	Pid          int
	StartingTime string
}

type body struct {
	Running  map[string]runningJSON
	Last     lastJSON
	Schedule string
	// Added keys.
	Command []string
	NextRun string
	Healthy bool
	Health  string
	History []lastJSON
	Skipped map[string]uint64
	MaxAge  string `json:",omitempty"`
	Version string
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func itoa(i int) string { return strconv.Itoa(i) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *State) lastJSON(r run.Result) lastJSON {
	red := s.cfg.Redactor
	return lastJSON{
		Exit_status:  r.ExitStatus,
		Stdout:       r.Stdout, // masked by the runner's tail
		Stderr:       r.Stderr,
		ExitTime:     stamp(r.End),
		Pid:          r.Pid,
		StartingTime: stamp(r.Start),
		Signal:       r.Signal,
		TimedOut:     r.TimedOut,
		Stopped:      r.Stopped,
		Error:        red.String(r.Error),
		Result:       ResultOf(r),
		Duration:     r.Duration().Round(time.Millisecond).String(),
	}
}

// Body returns the status JSON and the HTTP code it is served with. The
// body is cached until the state or its health changes, so a monitor polling
// hard costs a lock and a copy, not an encoding of two 64 KiB tails.
func (s *State) Body() ([]byte, int) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	health := s.health(now)
	code := http.StatusOK
	if health != "" {
		code = http.StatusServiceUnavailable
	}
	if s.cacheBody != nil && s.cacheVersion == s.version && s.cacheHealth == health {
		return s.cacheBody, code
	}
	red := s.cfg.Redactor
	b := body{
		Running:  map[string]runningJSON{},
		Schedule: red.String(s.cfg.Schedule),
		NextRun:  stamp(s.next),
		Healthy:  health == "",
		Health:   health,
		History:  []lastJSON{},
		Skipped:  map[string]uint64{},
		Version:  red.String(s.cfg.Version),
	}
	if b.Health == "" {
		b.Health = "ok"
	}
	for _, a := range s.cfg.Command {
		b.Command = append(b.Command, red.String(a))
	}
	if s.cfg.MaxAge > 0 {
		b.MaxAge = s.cfg.MaxAge.String()
	}
	for pid, start := range s.running {
		b.Running[strconv.Itoa(pid)] = runningJSON{Pid: pid, StartingTime: stamp(start)}
	}
	if sh := s.shared; sh != nil && sh.Last != nil {
		b.Last = s.lastJSON(sh.Last.Result)
		b.Last.Instance, b.Last.Slot, b.Last.Outcome = sh.Last.Instance, stamp(sh.Last.Slot), sh.Last.Outcome
		if sh.Last.Outcome == "lost" {
			b.Last.Result, b.Last.Duration = "lost", ""
		}
	} else if s.last != nil {
		b.Last = s.lastJSON(*s.last)
	}
	for i := len(s.history) - 1; i >= 0; i-- { // newest first
		b.History = append(b.History, s.lastJSON(s.history[i]))
	}
	for k, v := range s.skipped {
		b.Skipped[k] = v
	}
	var buf bytes.Buffer
	if err := s.encode(&buf, b); err != nil { // cannot happen with these types
		buf.Reset()
		buf.WriteString(`{"Error":"encoding status failed"}` + "\n")
	}
	out := buf.Bytes()
	s.cacheBody, s.cacheVersion, s.cacheHealth = out, s.version, health
	return out, code
}

// encode writes b, then the sections other parts added, as one JSON object.
func (s *State) encode(buf *bytes.Buffer, b body) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // shell commands are full of > and &
	enc.SetIndent("", "  ")
	if err := enc.Encode(b); err != nil {
		return err
	}
	if len(s.sections) == 0 {
		return nil
	}
	// Splice the sections in before the closing brace; keys State owns win.
	own := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[body]()) {
		own[f.Name] = true
	}
	buf.Truncate(bytes.LastIndexByte(buf.Bytes(), '}'))
	buf.Truncate(len(bytes.TrimRight(buf.Bytes(), "\n")))
	for _, k := range sortedKeys(s.sections) {
		if own[k] {
			continue
		}
		v, err := json.MarshalIndent(s.sections[k].value, "  ", "  ")
		if err != nil {
			v, _ = json.Marshal(map[string]string{"Error": "encoding: " + err.Error()})
		}
		key, _ := json.Marshal(k)
		fmt.Fprintf(buf, ",\n  %s: %s", key, s.cfg.Redactor.String(string(v)))
	}
	buf.WriteString("\n}\n")
	return nil
}

// Handler serves GET / (status), /healthz and /metrics on a mux of its own.
func (s *State) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b, code := s.Body()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(code)
		w.Write(b) //nolint:errcheck // the client went away
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write([]byte(s.Metrics())) //nolint:errcheck
	})
	return mux
}

// durationBuckets run from a tenth of a second to four hours: a backup may
// take either.
var durationBuckets = []float64{0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400}

type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
}

func newHistogram(bounds []float64) histogram {
	return histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i]++
	h.sum += v
	h.n++
}

// Metrics renders the Prometheus text exposition format by hand: the dozen
// lines below cost nothing, where client_golang would add 2.9 MB to the
// binary and 2.8 MB to idle RSS (measured), a third of our idle budget.
func (s *State) Metrics() string {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	head := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	head("gocron_runs_total", "counter", "Finished runs by result: success, failure (non-zero exit), signal (killed by a signal), error (could not start).")
	for _, res := range []string{ResultSuccess, ResultFailure, ResultSignal, ResultError} {
		fmt.Fprintf(&b, "gocron_runs_total{result=%q} %d\n", res, s.runs[res])
	}
	head("gocron_run_timeouts_total", "counter", "Runs stopped because they exceeded the timeout.")
	fmt.Fprintf(&b, "gocron_run_timeouts_total %d\n", s.timeouts)
	head("gocron_skipped_total", "counter", "Due runs that did not run, by reason (overlap: the previous run was still going; held: another replica has the slot; etcd-unreachable: the lock failed closed).")
	fmt.Fprintf(&b, "gocron_skipped_total{reason=\"overlap\"} %d\n", s.skipped["overlap"])
	if s.shared != nil {
		for _, k := range []string{"held", "etcd-unreachable"} {
			if _, ok := s.skipped[k]; !ok {
				fmt.Fprintf(&b, "gocron_skipped_total{reason=%q} 0\n", k)
			}
		}
	}
	for k, v := range s.skipped {
		if k != "overlap" {
			fmt.Fprintf(&b, "gocron_skipped_total{reason=%q} %d\n", k, v)
		}
	}
	head("gocron_run_duration_seconds", "histogram", "Duration of finished runs.")
	var cum uint64
	for i, le := range s.durations.bounds {
		cum += s.durations.counts[i]
		fmt.Fprintf(&b, "gocron_run_duration_seconds_bucket{le=\"%s\"} %d\n", strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	cum += s.durations.counts[len(s.durations.bounds)]
	fmt.Fprintf(&b, "gocron_run_duration_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	fmt.Fprintf(&b, "gocron_run_duration_seconds_sum %s\n", strconv.FormatFloat(s.durations.sum, 'g', -1, 64))
	fmt.Fprintf(&b, "gocron_run_duration_seconds_count %d\n", s.durations.n)
	unix := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
	}
	head("gocron_last_success_timestamp_seconds", "gauge", "End of the last successful run (0: none yet).")
	fmt.Fprintf(&b, "gocron_last_success_timestamp_seconds %s\n", unix(s.lastSuccess))
	head("gocron_last_failure_timestamp_seconds", "gauge", "End of the last failed run (0: none yet).")
	fmt.Fprintf(&b, "gocron_last_failure_timestamp_seconds %s\n", unix(s.lastFailure))
	head("gocron_next_run_timestamp_seconds", "gauge", "When the job fires next.")
	fmt.Fprintf(&b, "gocron_next_run_timestamp_seconds %s\n", unix(s.next))
	head("gocron_running", "gauge", "Runs in progress.")
	fmt.Fprintf(&b, "gocron_running %d\n", len(s.running))
	head("gocron_healthy", "gauge", "1 when GET / answers 200 (last run succeeded and, with a max age, recently enough).")
	h := 0
	if s.health(now) == "" {
		h = 1
	}
	fmt.Fprintf(&b, "gocron_healthy %d\n", h)
	if sh := s.shared; sh != nil {
		head("gocron_lock_etcd_reachable", "gauge", "1 when the lock's etcd answered the last request (--lock-etcd).")
		fmt.Fprintf(&b, "gocron_lock_etcd_reachable %d\n", b2i(sh.Reachable))
		head("gocron_lock_holding", "gauge", "1 while this replica holds the lock and runs a slot.")
		fmt.Fprintf(&b, "gocron_lock_holding %d\n", b2i(sh.Holding))
	}
	head("gocron_build_info", "gauge", "go-cron's version.")
	fmt.Fprintf(&b, "gocron_build_info{version=%q} 1\n", s.cfg.Version)
	for _, f := range s.extraMetrics {
		f(&b)
	}
	return s.cfg.Redactor.String(b.String())
}
