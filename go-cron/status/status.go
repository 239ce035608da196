// Package status holds what go-cron knows about its job (what runs now with
// its live output, how the last runs ended and what they reported, the last
// good backup, when the next one fires) and serves it: the status JSON
// monitors parse (GET / and every other path not named below; keys fixed by
// the design contract), a page for browsers (the same paths with Accept:
// text/html), the run history as JSON (GET /api/runs), liveness (GET
// /healthz) and Prometheus metrics (GET /metrics). The scheduler and the HTTP
// handlers share it under one lock.
package status

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"cronbox/go-cron/redact"
	"cronbox/go-cron/run"
	"cronbox/jobresult"
)

// Config is what the state is built from.
type Config struct {
	Schedule string           // as given, shown under "Schedule"
	Command  []string         // shown under "Command"
	MaxAge   time.Duration    // 0: no freshness check
	History  int              // how many past runs to show
	Version  string           // go-cron's version
	Now      func() time.Time // the clock
	Redactor *redact.Redactor

	// For the page: how the schedule was read, in words; its zone (times
	// are shown in it; nil: UTC); and its next n fire times after t (nil:
	// only the next one, from Scheduled).
	Reading  string
	Location *time.Location
	Upcoming func(t time.Time, n int) []time.Time
}

// Live is a running job's output as it comes (run.Output).
type Live interface {
	Tails() (stdout, stderr string) // masked
	Written() uint64                // grows with every byte written
}

// HistoryTail is how much of each output stream a past run keeps for the
// page and /api/runs (the last run keeps all of --tail-bytes in Last).
const HistoryTail = 4 << 10

// record is a finished run as the state keeps it, with the report the job
// wrote, read once.
type record struct {
	run.Record // Instance: with --lock-etcd, the replica it ran on, when not this one
	report     jobresult.Result
}

func newRecord(r run.Record) record {
	rec := record{Record: r}
	if len(r.Report) > 0 {
		_, rec.report, _ = jobresult.Parse(r.Report, nil) // masked already
	}
	return rec
}

// liveRun is a run in progress.
type liveRun struct {
	start time.Time
	out   Live // nil: output not watched
}

// State is the job's state. Its methods are safe for concurrent use.
type State struct {
	cfg Config

	mu          sync.Mutex
	version     uint64 // bumped on every change, keys the body cache
	firstFire   time.Time
	next        time.Time
	running     map[int]liveRun // by pid
	last        *run.Result
	history     []record // oldest first, at most cfg.History, tails cut to HistoryTail
	lastGood    *record  // the last successful run here, tails cut
	lastSuccess time.Time
	lastFailure time.Time
	runs        map[string]uint64 // by result
	shared      *Shared           // with go-cron --lock-etcd: what the replicas share
	sharedGood  *record           // shared.Last when it succeeded
	skipped     map[string]uint64 // by reason
	timeouts    uint64
	durations   histogram

	sections map[string]section // added by other parts (the lock), keyed by JSON key

	jsonCache, pageCache, runsCache cache

	extraMetrics []func(*strings.Builder) // see AddMetrics
}

// New returns an empty state.
func New(cfg Config) *State {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.History < 0 {
		cfg.History = 0
	}
	return &State{
		cfg:       cfg,
		running:   map[int]liveRun{},
		runs:      map[string]uint64{},
		skipped:   map[string]uint64{},
		sections:  map[string]section{},
		durations: newHistogram(durationBuckets),
	}
}

// Result names for runs and metrics.
const (
	ResultSuccess = "success" // exit status 0
	ResultFailure = "failure" // non-zero exit status
	ResultSignal  = "signal"  // killed by a signal
	ResultError   = "error"   // could not start
)

// ResultOf classifies a finished run.
func ResultOf(r run.Result) string {
	switch {
	case r.Pid == 0 && r.Error != "":
		return ResultError
	case r.Signal != "":
		return ResultSignal
	case r.OK():
		return ResultSuccess
	default:
		return ResultFailure
	}
}

// Describe sets what the page says about the schedule (Config's Reading,
// Location and Upcoming).
func (s *State) Describe(reading string, loc *time.Location, upcoming func(t time.Time, n int) []time.Time) {
	s.mu.Lock()
	s.cfg.Reading, s.cfg.Location, s.cfg.Upcoming = reading, loc, upcoming
	s.version++
	s.mu.Unlock()
}

// Scheduled records the next fire time.
func (s *State) Scheduled(next time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.firstFire.IsZero() {
		s.firstFire = next
	}
	s.next = next
	s.version++
}

// Started records a run that has started; out (may be nil) is its output
// as it comes, shown under Running until it finishes.
func (s *State) Started(pid int, start time.Time, out Live) {
	s.mu.Lock()
	s.running[pid] = liveRun{start, out}
	s.version++
	s.mu.Unlock()
}

// Finished records a finished run (one that started or failed to).
func (s *State) Finished(r run.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, r.Pid)
	s.last = &r
	h := newRecord(run.Record{Result: r})
	h.Stdout, h.Stderr = cutTail(r.Stdout, HistoryTail), cutTail(r.Stderr, HistoryTail)
	if s.cfg.History > 0 {
		if len(s.history) == s.cfg.History {
			s.history = append(s.history[:0], s.history[1:]...)
		}
		s.history = append(s.history, h)
	}
	res := ResultOf(r)
	if res == ResultSuccess {
		s.lastGood = &h
	}
	s.runs[res]++
	if r.TimedOut {
		s.timeouts++
	}
	if res == ResultSuccess {
		s.lastSuccess = r.End
	} else {
		s.lastFailure = r.End
	}
	if res != ResultError {
		s.durations.observe(r.Duration().Seconds())
	}
	s.version++
}

// Skipped records a due run that did not run, and why ("overlap", or a
// gate's reason such as "held").
func (s *State) Skipped(reason string) {
	s.mu.Lock()
	s.skipped[reason]++
	s.version++
	s.mu.Unlock()
}

type section struct {
	value   any
	problem string
}

// SetSection adds key to the status JSON with value (encoded with
// encoding/json, then masked like the rest), replacing what key held. A non-empty problem makes GET / answer 503 with it as the
// health; this is how a part like the etcd lock reports "cannot reach etcd".
// The seed keys and the ones State writes cannot be replaced.
func (s *State) SetSection(key string, value any, problem string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sections[key] = section{value, problem}
	s.version++
}

// Shared is what the replicas of a locked job share through etcd (go-cron
// --lock-etcd). The lock's own view goes in a section (SetSection "Lock").
type Shared struct {
	Last      *run.Record // nil: no slot has finished yet
	Reachable bool        // etcd answered the last request
	Holding   bool        // this replica holds the lock now
}

// SetShared replaces the shared state. From then on the shared last run,
// not this replica's own, decides Last, the HTTP code and freshness, and
// /metrics shows the lock's gauges.
func (s *State) SetShared(sh Shared) {
	s.mu.Lock()
	s.shared = &sh
	s.sharedGood = nil
	if sh.Last != nil && sh.Last.OK() {
		g := newRecord(*sh.Last)
		g.Stdout, g.Stderr = cutTail(g.Stdout, HistoryTail), cutTail(g.Stderr, HistoryTail)
		s.sharedGood = &g
	}
	s.version++
	s.mu.Unlock()
}

// good is the last good run: this replica's own, or the replicas' shared
// last run when that one succeeded later. Call with s.mu held.
func (s *State) good() *record {
	if g := s.sharedGood; g != nil && (s.lastGood == nil || g.End.After(s.lastGood.End)) {
		return g
	}
	return s.lastGood
}

// Last returns the last finished run, if any.
func (s *State) Last() (run.Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return run.Result{}, false
	}
	return *s.last, true
}

// health says whether monitors should see 200 ("" ) or 503 (the reason).
// Call with s.mu held.
func (s *State) health(now time.Time) string {
	last, lastSuccess := s.last, s.lastSuccess
	if sh := s.shared; sh != nil && sh.Last != nil {
		last = &sh.Last.Result
		if last.OK() && last.End.After(lastSuccess) {
			lastSuccess = last.End
		}
	}
	if last != nil && !last.OK() {
		return "last run failed: " + describe(*last)
	}
	for _, k := range sortedKeys(s.sections) {
		if p := s.sections[k].problem; p != "" {
			return k + ": " + p
		}
	}
	if s.cfg.MaxAge <= 0 {
		return ""
	}
	if lastSuccess.IsZero() {
		// Never ran (or never succeeded): give the first run its chance.
		if !s.firstFire.IsZero() && now.After(s.firstFire.Add(s.cfg.MaxAge)) {
			return "stale: no successful run since the first fire time " + stamp(s.firstFire) + " plus max age " + s.cfg.MaxAge.String()
		}
		return ""
	}
	if now.Sub(lastSuccess) > s.cfg.MaxAge {
		return "stale: last success " + stamp(lastSuccess) + " is older than max age " + s.cfg.MaxAge.String()
	}
	return ""
}

// healthCode is health with the HTTP code it is served with. Call with s.mu
// held.
func (s *State) healthCode(now time.Time) (string, int) {
	if h := s.health(now); h != "" {
		return h, http.StatusServiceUnavailable
	}
	return "", http.StatusOK
}

func describe(r run.Result) string {
	switch {
	case r.Pid == 0 && r.Error != "":
		return r.Error
	case r.TimedOut:
		return "timed out, killed by " + r.Signal
	case r.Signal != "":
		return "killed by " + r.Signal
	default:
		return "exit status " + itoa(r.ExitStatus)
	}
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// cutTail keeps the last n bytes of s, starting at a line or, failing
// that, a character boundary.
func cutTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		return s[i+1:]
	}
	for i := 0; i < len(s) && i < utf8.UTFMax; i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return s
}
