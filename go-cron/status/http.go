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
	// What the job reported in GOCRON_RESULT_FILE (see package jobresult),
	// and why a file it wrote was not used.
	Report      json.RawMessage `json:",omitempty"`
	ReportError string          `json:",omitempty"`
}

// runningJSON is a run in progress with its output so far (bounded tails,
// masked), under the original go-cron's keys, in its order (it showed a
// running job as a Last without an exit).
type runningJSON struct {
	Exit_status  int //nolint:revive // contract spelling
	Stdout       string
	Stderr       string
	ExitTime     string
	Pid          int
	StartingTime string
}

// lastGoodJSON is the last successful run, what it reported and how long ago
// it ended.
type lastGoodJSON struct {
	lastJSON
	Age        string
	AgeSeconds int64
	// An incremental backup's recovery point (its result's chain.time):
	// the newest revision covered was read then.
	RecoveryPoint           string `json:",omitempty"`
	RecoveryPointAge        string `json:",omitempty"`
	RecoveryPointAgeSeconds *int64 `json:",omitempty"`
}

type body struct {
	Running  map[string]runningJSON
	Last     lastJSON
	Schedule string
	// Added keys.
	Command  []string
	NextRun  string
	Healthy  bool
	Health   string
	History  []lastJSON
	Skipped  map[string]uint64
	MaxAge   string `json:",omitempty"`
	Version  string
	LastGood *lastGoodJSON // null until a run succeeds
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func itoa(i int) string { return strconv.Itoa(i) }

// RunJSON is r as the status JSON shows a finished run (under "Last"), for
// parts that publish runs elsewhere (the notifier's webhook).
func (s *State) RunJSON(r run.Result) any { return s.lastJSON(r) }

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
		Report:       r.Report, // masked by the runner
		ReportError:  red.String(r.ReportError),
	}
}

// Body returns the status JSON and the HTTP code it is served with. The
// body is cached until the state or its health changes (and, with a last
// good run, the second, for its age), so a monitor polling hard costs a lock
// and a copy, not an encoding of two 64 KiB tails. A running job's new
// output shows within liveEvery.
func (s *State) Body() ([]byte, int) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	health, code := s.healthCode(now)
	key := s.key(health, now, s.good() != nil)
	if b, ok := s.jsonCache.get(key, now); ok {
		return b, code
	}
	red := s.cfg.Redactor
	b := body{
		Running:  map[string]runningJSON{},
		Schedule: red.String(s.cfg.Schedule),
		NextRun:  stamp(s.next),
		Healthy:  health == "",
		Health:   red.String(health),
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
	for pid, lr := range s.running {
		rj := runningJSON{Pid: pid, StartingTime: stamp(lr.start)}
		if lr.out != nil {
			rj.Stdout, rj.Stderr = lr.out.Tails()
		}
		b.Running[strconv.Itoa(pid)] = rj
	}
	b.Last = s.lastRunJSON()
	for i := len(s.history) - 1; i >= 0; i-- { // newest first
		h := s.lastJSON(s.history[i].Result)
		h.Stdout, h.Stderr = "", "" // as before: the tails are in Last and /api/runs
		b.History = append(b.History, h)
	}
	for k, v := range s.skipped {
		b.Skipped[k] = v
	}
	if g := s.good(); g != nil {
		lg := &lastGoodJSON{lastJSON: s.lastJSON(g.Result)}
		lg.Stdout, lg.Stderr = "", ""
		age := max(now.Sub(g.End), 0).Truncate(time.Second)
		lg.Age, lg.AgeSeconds = age.String(), int64(age/time.Second)
		if c := g.report.Chain; c != nil && !c.Time.IsZero() {
			rp := max(now.Sub(c.Time), 0).Truncate(time.Second)
			secs := int64(rp / time.Second)
			lg.RecoveryPoint, lg.RecoveryPointAge, lg.RecoveryPointAgeSeconds = stamp(c.Time), rp.String(), &secs
		}
		b.LastGood = lg
	}
	var buf bytes.Buffer
	if err := s.encode(&buf, b); err != nil { // cannot happen with these types
		buf.Reset()
		buf.WriteString(`{"Error":"encoding status failed"}` + "\n")
	}
	return s.jsonCache.put(key, now, buf.Bytes()), code
}

// lastRunJSON is the seed key Last: the shared last run with --lock-etcd
// (where and for which slot it ran), else this replica's. Call with s.mu
// held.
func (s *State) lastRunJSON() lastJSON {
	if sh := s.shared; sh != nil && sh.Last != nil {
		l := s.lastJSON(sh.Last.Result)
		l.Instance, l.Slot, l.Outcome = sh.Last.Instance, stamp(sh.Last.Slot), sh.Last.Outcome
		if sh.Last.Outcome == run.OutcomeLost {
			l.Result, l.Duration = "lost", ""
		}
		return l
	}
	if s.last != nil {
		return s.lastJSON(*s.last)
	}
	return lastJSON{}
}

// liveEvery is how stale a running job's output may be in a cached answer.
const liveEvery = 250 * time.Millisecond

// cacheKey is what a rendered answer depends on.
type cacheKey struct {
	version uint64
	health  string
	second  int64  // for answers showing ages; 0 otherwise
	live    uint64 // bytes the running jobs have written
}

type cache struct {
	key  cacheKey
	at   time.Time
	body []byte
}

// key is the cache key now; timed answers change every second. Call with
// s.mu held.
func (s *State) key(health string, now time.Time, timed bool) cacheKey {
	k := cacheKey{version: s.version, health: health}
	if timed {
		k.second = now.Unix()
	}
	for _, lr := range s.running {
		if lr.out != nil {
			k.live += lr.out.Written()
		}
	}
	return k
}

// get returns the cached body for k; new output of a running job alone
// renews it at most every liveEvery.
func (c *cache) get(k cacheKey, now time.Time) ([]byte, bool) {
	if c.body == nil {
		return nil, false
	}
	if c.key == k {
		return c.body, true
	}
	old := c.key
	old.live = k.live
	if old == k && now.Sub(c.at) < liveEvery && now.Sub(c.at) >= 0 {
		return c.body, true
	}
	return nil, false
}

func (c *cache) put(k cacheKey, now time.Time, b []byte) []byte {
	c.key, c.at, c.body = k, now, b
	return b
}

// Runs returns GET /api/runs: the kept runs, newest first, each with the
// end of its output (HistoryTail bytes of each stream) and its report.
func (s *State) Runs() []byte {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := cacheKey{version: s.version}
	if b, ok := s.runsCache.get(key, now); ok {
		return b
	}
	out := struct{ Runs []lastJSON }{Runs: []lastJSON{}}
	for i := len(s.history) - 1; i >= 0; i-- {
		out.Runs = append(out.Runs, s.lastJSON(s.history[i].Result))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil { // cannot happen with these types
		buf.Reset()
		buf.WriteString(`{"Error":"encoding runs failed"}` + "\n")
	}
	return s.runsCache.put(key, now, buf.Bytes())
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

// Routes other than the status itself; every other path serves the
// status, as the original go-cron did (monitors poll /status or /health).
const (
	PathHealthz = "/healthz"
	PathMetrics = "/metrics"
	PathRuns    = "/api/runs"
)

// Handler serves, on a mux of its own, GET /healthz, /metrics and
// /api/runs, and the status on every other path and method, as the
// original go-cron did: JSON, or the page for a browser (see WantsHTML).
func (s *State) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept")
		var b []byte
		var code int
		if WantsHTML(r) {
			b, code = s.Page()
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			// The page's own inline style and script, nothing else.
			w.Header().Set("Content-Security-Policy", pageCSP)
			w.Header().Set("X-Content-Type-Options", "nosniff")
		} else {
			b, code = s.Body()
			w.Header().Set("Content-Type", "application/json")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(code)
		w.Write(b) //nolint:errcheck // the client went away
	})
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET "+PathMetrics, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write([]byte(s.Metrics())) //nolint:errcheck
	})
	mux.HandleFunc("GET "+PathRuns, func(w http.ResponseWriter, r *http.Request) {
		b := s.Runs()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b) //nolint:errcheck
	})
	return mux
}

// WantsHTML reports whether r should get the page: ?format=html, or an
// Accept header that prefers text/html to JSON. Browsers send
// "text/html,...,*/*;q=0.8"; curl sends "*/*" and gets JSON, as does a
// client sending nothing, or both at the same weight. ?format=json forces
// JSON (the page links to it).
func WantsHTML(r *http.Request) bool {
	if strings.Contains(r.URL.RawQuery, "format=") { // parse only then: monitors poll hard
		switch r.URL.Query().Get("format") {
		case "json":
			return false
		case "html":
			return true
		}
	}
	var htmlQ, jsonQ float64
	for _, h := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(h, ",") {
			media, params, _ := strings.Cut(part, ";")
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
					if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
						q = f
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(media)) {
			case "text/html", "application/xhtml+xml":
				htmlQ = max(htmlQ, q)
			case "application/json", "application/*", "*/*":
				jsonQ = max(jsonQ, q)
			}
		}
	}
	return htmlQ > jsonQ
}
