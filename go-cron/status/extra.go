package status

import (
	"strings"

	"cronbox/go-cron/run"
)

// RunJSON is r as the status JSON shows a finished run (under "Last"), for
// parts that publish runs elsewhere (the notifier's webhook).
func (s *State) RunJSON(r run.Result) any { return s.lastJSON(r) }

// AddMetrics adds the lines f writes to /metrics (the notifier's counters).
// f runs with the state's lock held: it must not call the State.
func (s *State) AddMetrics(f func(*strings.Builder)) {
	s.mu.Lock()
	s.extraMetrics = append(s.extraMetrics, f)
	s.mu.Unlock()
}
