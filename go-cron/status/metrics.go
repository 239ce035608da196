package status

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Metrics renders the Prometheus text exposition format by hand: the dozen
// lines below cost nothing, where client_golang would add 2.9 MB to the
// binary and 2.8 MB to idle RSS (measured), a third of our idle budget.
func (s *State) Metrics() string {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := metricsWriter{&strings.Builder{}}
	s.runMetrics(w)
	s.durations.write(w, "gocron_run_duration_seconds", "Duration of finished runs.")
	s.timeMetrics(w)
	w.head("gocron_running", "gauge", "Runs in progress.")
	fmt.Fprintf(w, "gocron_running %d\n", len(s.running))
	w.head("gocron_healthy", "gauge", "1 when GET / answers 200 (last run succeeded and, with a max age, recently enough).")
	fmt.Fprintf(w, "gocron_healthy %d\n", b2i(s.health(now) == ""))
	if sh := s.shared; sh != nil {
		w.head("gocron_lock_etcd_reachable", "gauge", "1 when the lock's etcd answered the last request (--lock-etcd).")
		fmt.Fprintf(w, "gocron_lock_etcd_reachable %d\n", b2i(sh.Reachable))
		w.head("gocron_lock_holding", "gauge", "1 while this replica holds the lock and runs a slot.")
		fmt.Fprintf(w, "gocron_lock_holding %d\n", b2i(sh.Holding))
	}
	w.head("gocron_build_info", "gauge", "go-cron's version.")
	fmt.Fprintf(w, "gocron_build_info{version=%q} 1\n", s.cfg.Version)
	for _, f := range s.extraMetrics {
		f(w.Builder)
	}
	return s.cfg.Redactor.String(w.String())
}

// AddMetrics adds the lines f writes to /metrics (the notifier's counters).
// f runs with the state's lock held: it must not call the State.
func (s *State) AddMetrics(f func(*strings.Builder)) {
	s.mu.Lock()
	s.extraMetrics = append(s.extraMetrics, f)
	s.mu.Unlock()
}

type metricsWriter struct{ *strings.Builder }

func (w metricsWriter) head(name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// runMetrics are the counters of runs, timeouts and skipped slots. Call
// with s.mu held.
func (s *State) runMetrics(w metricsWriter) {
	w.head("gocron_runs_total", "counter", "Finished runs by result: success, failure (non-zero exit), signal (killed by a signal), error (could not start).")
	for _, res := range []string{ResultSuccess, ResultFailure, ResultSignal, ResultError} {
		fmt.Fprintf(w, "gocron_runs_total{result=%q} %d\n", res, s.runs[res])
	}
	w.head("gocron_run_timeouts_total", "counter", "Runs stopped because they exceeded the timeout.")
	fmt.Fprintf(w, "gocron_run_timeouts_total %d\n", s.timeouts)
	w.head("gocron_skipped_total", "counter", "Due runs that did not run, by reason (overlap: the previous run was still going; held: another replica has the slot; etcd-unreachable: the lock failed closed).")
	fmt.Fprintf(w, "gocron_skipped_total{reason=\"overlap\"} %d\n", s.skipped["overlap"])
	if s.shared != nil {
		for _, k := range []string{"held", "etcd-unreachable"} {
			if _, ok := s.skipped[k]; !ok {
				fmt.Fprintf(w, "gocron_skipped_total{reason=%q} 0\n", k)
			}
		}
	}
	for k, v := range s.skipped {
		if k != "overlap" {
			fmt.Fprintf(w, "gocron_skipped_total{reason=%q} %d\n", k, v)
		}
	}
}

// timeMetrics are the gauges that say when: the last success, failure and
// good backup (with its size), the next run. Call with s.mu held.
func (s *State) timeMetrics(w metricsWriter) {
	unix := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
	}
	w.head("gocron_last_success_timestamp_seconds", "gauge", "End of the last successful run (0: none yet).")
	fmt.Fprintf(w, "gocron_last_success_timestamp_seconds %s\n", unix(s.lastSuccess))
	w.head("gocron_last_failure_timestamp_seconds", "gauge", "End of the last failed run (0: none yet).")
	fmt.Fprintf(w, "gocron_last_failure_timestamp_seconds %s\n", unix(s.lastFailure))
	lgTime, lgSize := time.Time{}, int64(0)
	if g := s.good(); g != nil {
		lgTime, lgSize = g.End, g.report.Size
	}
	w.head("gocron_last_good_backup_timestamp_seconds", "gauge", "End of the last successful run, on this replica or (with --lock-etcd) another (0: none yet).")
	fmt.Fprintf(w, "gocron_last_good_backup_timestamp_seconds %s\n", unix(lgTime))
	w.head("gocron_last_good_backup_size_bytes", "gauge", "Size the last successful run reported in GOCRON_RESULT_FILE (0: none reported).")
	fmt.Fprintf(w, "gocron_last_good_backup_size_bytes %d\n", lgSize)
	if g := s.good(); g != nil && g.report.Chain != nil {
		w.head("gocron_recovery_point_timestamp_seconds", "gauge", "When the newest revision an incremental backup covers was read (the result's chain.time): what a restore now gets back to.")
		fmt.Fprintf(w, "gocron_recovery_point_timestamp_seconds %s\n", unix(g.report.Chain.Time))
	}
	w.head("gocron_next_run_timestamp_seconds", "gauge", "When the job fires next.")
	fmt.Fprintf(w, "gocron_next_run_timestamp_seconds %s\n", unix(s.next))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
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

// write renders h as the Prometheus histogram name: cumulative buckets,
// sum and count.
func (h *histogram) write(w metricsWriter, name, help string) {
	w.head(name, "histogram", help)
	var cum uint64
	for i, le := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	cum += h.counts[len(h.bounds)]
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", name, cum)
	fmt.Fprintf(w, "%s_sum %s\n", name, strconv.FormatFloat(h.sum, 'g', -1, 64))
	fmt.Fprintf(w, "%s_count %d\n", name, h.n)
}
