package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/testkit"
)

// soakTime is how long the soak runs: 10 minutes in `make reliability`
// (RELIABILITY_SOAK overrides), 20 s in `make test`.
func soakTime(t *testing.T) time.Duration {
	if v := os.Getenv("RELIABILITY_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("RELIABILITY_SOAK=%q: %v", v, err)
		}
		return d
	}
	if full {
		return 10 * time.Minute
	}
	return 20 * time.Second
}

type sample struct {
	rssKB, fds, threads int
}

func sampleProc(pid int) (sample, error) {
	var s sample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			s.rssKB, _ = strconv.Atoi(f[1])
		case "Threads:":
			s.threads, _ = strconv.Atoi(f[1])
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.fds = len(ents)
	return s, nil
}

// TestSoak: go-cron runs a job every second; half the runs fail, every
// fifth prints 2 MB. go-cron's RSS, open descriptors and threads stay flat.
// (go-cron exposes no goroutine count: /metrics has none and there is no
// pprof endpoint, so threads stand in for it.)
func TestSoak(t *testing.T) {
	t.Parallel() // ten minutes in `make reliability`: overlap it with the rest
	o := track(t, "soak")
	d := soakTime(t)
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sh")
	os.WriteFile(job, []byte(`#!/bin/sh
n=$(date +%s)
if [ $((n % 5)) -eq 0 ]; then head -c 1500000 /dev/urandom | base64; fi
echo "run at $n"
if [ $((n % 2)) -eq 0 ]; then echo "failing on purpose" >&2; exit 1; fi
`), 0o755)
	addr := statusAddr(t)
	p := startFor(t, d+2*time.Minute, "", nil, nil, "go-cron", "--status-addr", addr, "* * * * * *", "--", job)
	testkit.WaitFor(t, 10*time.Second, "the status port", func() error { _, _, _, err := getStatus(addr); return err })
	// Discard the logs as they come (2 MB every 5 s would fill the buffer).
	p.stdout.KeepLast(1 << 20)
	p.stderr.KeepLast(1 << 20)
	pid := p.cmd.Process.Pid
	var first, last, peak sample
	warm := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.Now().Add(d)
	n := 0
	for now := range tick.C {
		s, err := sampleProc(pid)
		if err != nil {
			t.Fatalf("go-cron died: %v\n%s", err, tail(p.stderr.String(), 2000))
		}
		if now.Before(warm) {
			continue
		}
		if n == 0 {
			first = s
		}
		n++
		last = s
		peak.rssKB, peak.fds, peak.threads = max(peak.rssKB, s.rssKB), max(peak.fds, s.fds), max(peak.threads, s.threads)
		if now.After(end) {
			break
		}
	}
	mb := get(addr, "/metrics")
	runs := runsTotal(mb)
	fails := metric(mb, `gocron_runs_total{result="failure"}`)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	report := fmt.Sprintf("soak %s: %d runs (%d failed); go-cron RSS start %.1f MB, end %.1f MB, max %.1f MB; fds %d/%d/%d; threads %d/%d/%d (start/end/max)",
		d, runs, fails, float64(first.rssKB)/1024, float64(last.rssKB)/1024, float64(peak.rssKB)/1024,
		first.fds, last.fds, peak.fds, first.threads, last.threads, peak.threads)
	t.Log(report)
	soakReport = report
	if want := int(d.Seconds()) - 2; runs < want*8/10 {
		t.Errorf("only %d runs in %s", runs, d)
	}
	if fails < runs/3 || fails > runs*2/3 {
		t.Errorf("%d of %d runs failed, want about half", fails, runs)
	}
	if last.rssKB > first.rssKB*3/2+4096 {
		t.Errorf("RSS grew from %d kB to %d kB", first.rssKB, last.rssKB)
	}
	if last.fds > first.fds+2 {
		t.Errorf("open descriptors grew from %d to %d", first.fds, last.fds)
	}
	if last.threads > first.threads+4 {
		t.Errorf("threads grew from %d to %d", first.threads, last.threads)
	}
	_ = o
}

var soakReport string

func metric(text, name string) int {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\d+)`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// TestStatusUnderLoad: wrk hammers the status port (GET /, /metrics) while
// jobs run every second and print output; every answer is a 200, and the
// p99 latency is reported.
func TestStatusUnderLoad(t *testing.T) {
	o := track(t, "status under load")
	wrk := testkit.Need(t, "wrk")
	dur := "5s"
	if full {
		dur = "30s"
	}
	job := filepath.Join(t.TempDir(), "job.sh")
	os.WriteFile(job, []byte("#!/bin/sh\nhead -c 200000 /dev/urandom | base64\necho done\n"), 0o755)
	addr := statusAddr(t)
	p := start(t, nil, nil, "go-cron", "--status-addr", addr, "--run-on-start", "* * * * * *", "--", job)
	p.stdout.KeepLast(1 << 20)
	testkit.WaitFor(t, 20*time.Second, "a first successful run", func() error {
		code, s, _, err := getStatus(addr)
		if err != nil || s.Last == nil || s.Last.Pid == 0 || code != 200 {
			return testkit.ErrNotYet
		}
		return nil
	})
	for _, path := range []string{"/", "/metrics"} {
		out, err := exec.Command(wrk, "-t2", "-c32", "-d"+dur, "--latency", "http://"+addr+path).CombinedOutput()
		if err != nil {
			t.Fatalf("wrk: %v\n%s", err, out)
		}
		s := string(out)
		p99 := regexp.MustCompile(`(?m)^\s+99%\s+(\S+)`).FindStringSubmatch(s)
		rps := regexp.MustCompile(`Requests/sec:\s+(\S+)`).FindStringSubmatch(s)
		if p99 == nil || rps == nil {
			t.Fatalf("cannot read wrk's output:\n%s", s)
		}
		line := fmt.Sprintf("GET %s under load (%s, 32 connections, jobs every second): %s req/s, p99 %s", path, dur, rps[1], p99[1])
		t.Log(line)
		loadReport = append(loadReport, line)
		if strings.Contains(s, "Non-2xx") || strings.Contains(s, "Socket errors") {
			t.Errorf("error responses under load:\n%s", s)
		}
	}
	runs := runsTotal(get(addr, "/metrics"))
	if runs < 2 {
		t.Errorf("only %d runs while under load", runs)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	_ = o
}

var loadReport []string
