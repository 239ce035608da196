package lock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// These tests run real go-cron processes (testkit.Build) against a real
// 3-member cluster of Debian's etcd and count runs from the jobs' own side
// effects: each run appends a line to a file.

type instance struct {
	id     string
	cmd    *exec.Cmd
	stderr *testkit.Buffer
	addr   string
	exited chan struct{}
}

// startInstance runs go-cron every second with the lock on endpoints.
func startInstance(t *testing.T, id string, endpoints []string, job ...string) *instance {
	t.Helper()
	return startGocron(t, id, []string{"--lock-etcd", strings.Join(endpoints, ",")}, nil, job...)
}

// startGocron runs go-cron every second with the lock named e2e, flags
// (the endpoints among them) and env added to the test's environment.
func startGocron(t *testing.T, id string, flags, env []string, job ...string) *instance {
	t.Helper()
	bin := testkit.Build(t, "cronbox/go-cron")
	args := append([]string{"--status-addr", "127.0.0.1:0", "--log-format", "json", "--grace", "300ms", "--pipe-wait", "200ms",
		"--lock-name", "e2e", "--lock-instance", id, "--lock-ttl", "2s"}, flags...)
	args = append(args, "* * * * * *", "--")
	in := &instance{id: id, stderr: &testkit.Buffer{}, exited: make(chan struct{})}
	in.cmd = exec.Command(bin, append(args, job...)...)
	in.cmd.Env = append(os.Environ(), env...)
	in.cmd.Stdout, in.cmd.Stderr = io.Discard, in.stderr
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.cmd.Wait(); close(in.exited) }()
	t.Cleanup(func() {
		in.cmd.Process.Kill()
		<-in.exited
		if t.Failed() {
			t.Logf("go-cron %s stderr:\n%s", id, in.stderr)
		}
	})
	testkit.WaitFor(t, 15*time.Second, "go-cron "+id+"'s status port", func() error {
		select {
		case <-in.exited:
			return fmt.Errorf("go-cron %s exited:\n%s", id, in.stderr)
		default:
		}
		sc := bufio.NewScanner(strings.NewReader(in.stderr.String()))
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "status listening" {
				in.addr = m["addr"].(string)
				return nil
			}
		}
		return testkit.ErrNotYet
	})
	return in
}

type e2eStatus struct {
	Running map[string]struct{ Pid int }
	Last    struct {
		Exit_status int //nolint:revive // contract spelling
		Instance    string
		Slot        string
		Outcome     string
	}
	Health string
	Lock   struct {
		Instance  string
		Etcd      string
		Holding   bool
		Holder    string
		HeldSlot  string
		LastRunBy string
	}
}

func (in *instance) status() (int, e2eStatus, error) {
	var s e2eStatus
	resp, err := http.Get("http://" + in.addr + "/")
	if err != nil {
		return 0, s, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return 0, s, fmt.Errorf("status JSON: %v\n%s", err, b)
	}
	return resp.StatusCode, s, nil
}

// metric reads one sample from /metrics (0 when absent).
func (in *instance) metric(name string) float64 {
	resp, err := http.Get("http://" + in.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("go-cron %s did not stop within 10s of SIGTERM", in.id)
	}
}

// lines returns the job's side-effect file, line by line.
func lines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(strings.ReplaceAll(string(b), " ", "|"))
}

// The issue asks for 60 slots; each costs a second of wall time.
const exactlyOnceSlots = 60

// Three instances on an every-second schedule: every slot runs exactly once.
func TestE2EExactlyOnce(t *testing.T) {
	cl := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 3})
	out := filepath.Join(t.TempDir(), "runs")
	job := []string{"/bin/sh", "-c", `echo "$GOCRON_SLOT $GOCRON_LOCK_INSTANCE" >> "$0"`, out}
	var ins []*instance
	for i := range 3 {
		ins = append(ins, startInstance(t, fmt.Sprintf("i%d", i), cl.Endpoints(), job...))
	}
	// Count from the moment all three compete.
	startLines := len(lines(out))
	testkit.WaitFor(t, (exactlyOnceSlots+30)*time.Second, fmt.Sprintf("%d slots run", exactlyOnceSlots), func() error {
		if n := len(lines(out)) - startLines; n < exactlyOnceSlots {
			return fmt.Errorf("%d runs so far", n)
		}
		return nil
	})
	held := 0.0
	for _, in := range ins {
		held += in.metric(`gocron_skipped_total{reason="held"}`)
		if r := in.metric("gocron_lock_etcd_reachable"); r != 1 {
			t.Errorf("%s: gocron_lock_etcd_reachable %v", in.id, r)
		}
	}
	for _, in := range ins {
		in.stop(t)
	}

	runs := map[time.Time][]string{}
	by := map[string]int{}
	for _, l := range lines(out) {
		slot, inst, _ := strings.Cut(l, "|")
		ts, err := time.Parse(time.RFC3339, slot)
		if err != nil {
			t.Fatalf("job wrote %q: %v", l, err)
		}
		runs[ts] = append(runs[ts], inst)
		by[inst]++
	}
	var slots []time.Time
	for ts := range runs {
		slots = append(slots, ts)
	}
	slices.SortFunc(slots, func(a, b time.Time) int { return a.Compare(b) })
	// A slot may go unrun only when every instance skipped it because the
	// previous slot's claim or run was still going there (the scheduler's
	// one run at a time): on a loaded machine a few etcd round trips can
	// take a second, and an every-second schedule cannot keep up then.
	overlap := map[time.Time]int{}
	for _, in := range ins {
		for ts := range in.skipped(t, "overlap") {
			overlap[ts]++
		}
	}
	first, last := slots[0], slots[len(slots)-1]
	busy, clean := 0, 0
	for ts := first; !ts.After(last); ts = ts.Add(time.Second) {
		switch n := len(runs[ts]); {
		case n > 1:
			t.Errorf("slot %s ran %d times (%v)", ts.Format(time.RFC3339), n, runs[ts])
		case n == 0 && overlap[ts] == len(ins):
			busy++
		case n == 0:
			t.Errorf("slot %s never ran, and only %d of %d instances skipped it as busy", ts.Format(time.RFC3339), overlap[ts], len(ins))
		case overlap[ts] == 0:
			clean++
		}
	}
	n := int(last.Sub(first)/time.Second) + 1
	t.Logf("%d consecutive slots: %d run once, %d skipped by every instance as busy; runs by instance %v; skipped as held: %v", n, len(runs), busy, by, held)
	if len(runs) < exactlyOnceSlots {
		t.Errorf("only %d slots ran", len(runs))
	}
	// Where nobody was busy, the two instances that did not run the slot
	// skipped it as held.
	if held < float64(clean) {
		t.Errorf("skipped-as-held counter totals %v over %d slots that no instance skipped as busy; want at least one per slot", held, clean)
	}
}

// skipped returns the slots this instance logged as skipped for reason.
func (in *instance) skipped(t *testing.T, reason string) map[time.Time]bool {
	t.Helper()
	out := map[time.Time]bool{}
	sc := bufio.NewScanner(strings.NewReader(in.stderr.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil || m["msg"] != "run skipped" || m["reason"] != reason {
			continue
		}
		slot, _ := m["slot"].(string)
		ts, err := time.Parse(time.RFC3339, slot)
		if err != nil {
			t.Fatalf("go-cron %s logged a skip of slot %q: %v", in.id, slot, err)
		}
		out[ts] = true
	}
	return out
}

// SIGKILL the holder mid-run: the next slot runs on another instance within
// TTL + 1 slot, the killed slot never runs twice and is reported lost (503
// with outcome unknown) by the survivors, who agree on Last.
func TestE2EHolderKilled(t *testing.T) {
	cl := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 3})
	out := filepath.Join(t.TempDir(), "runs")
	job := []string{"/bin/sh", "-c", `echo "start $GOCRON_SLOT $GOCRON_LOCK_INSTANCE" >> "$0"; sleep 3; echo "end $GOCRON_SLOT" >> "$0"`, out}
	var ins []*instance
	for i := range 3 {
		ins = append(ins, startInstance(t, fmt.Sprintf("i%d", i), cl.Endpoints(), job...))
	}
	var holder *instance
	var heldSlot string
	var jobPid int
	// Running in the status means forked: wait for the job's own first
	// line too, or a loaded machine may kill it before it ever wrote, and
	// the killed slot would look as if it never started.
	testkit.WaitFor(t, 20*time.Second, "an instance running a slot", func() error {
		for _, in := range ins {
			_, s, err := in.status()
			if err != nil {
				return err
			}
			if s.Lock.Holding && len(s.Running) == 1 {
				started := "start|" + s.Lock.HeldSlot + "|" + in.id
				if !slices.Contains(lines(out), started) {
					return fmt.Errorf("%s runs slot %s, but its job has not written %q yet", in.id, s.Lock.HeldSlot, started)
				}
				for _, r := range s.Running {
					holder, heldSlot, jobPid = in, s.Lock.HeldSlot, r.Pid
				}
				return nil
			}
		}
		return testkit.ErrNotYet
	})
	// A container's death: go-cron and its job's process group go at once.
	syscall.Kill(-jobPid, syscall.SIGKILL)
	holder.cmd.Process.Kill()
	killed := time.Now()
	<-holder.exited
	t.Logf("killed %s while it ran slot %s", holder.id, heldSlot)

	heldTS, err := time.Parse(time.RFC3339, heldSlot)
	if err != nil {
		t.Fatalf("HeldSlot %q: %v", heldSlot, err)
	}
	var next string
	testkit.WaitFor(t, 10*time.Second, "a later slot to start elsewhere", func() error {
		for _, l := range lines(out) {
			f := strings.Split(l, "|")
			if f[0] != "start" {
				continue
			}
			ts, _ := time.Parse(time.RFC3339, f[1])
			if ts.After(heldTS) {
				if f[2] == holder.id {
					return fmt.Errorf("slot %s started on the killed instance", f[1])
				}
				next = l
				return nil
			}
		}
		return testkit.ErrNotYet
	})
	// The contract is which slot takes over: one within TTL + 1 slot of the
	// kill. It is measured to that slot's instant, not to when its line
	// showed up: how long a loaded machine then takes to claim the slot,
	// fork the job and let the test read its line is not the lock's doing
	// (that took the line to 2.8-3.1 s after the kill of the 4 s once
	// allowed, at load ~17).
	nextTS, err := time.Parse(time.RFC3339, strings.Split(next, "|")[1])
	if err != nil {
		t.Fatalf("job wrote %q: %v", next, err)
	}
	took := nextTS.Sub(killed)
	t.Logf("next run %s: its slot is %s after the kill, its line was seen %s after", next, took.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	if limit := 2*time.Second + time.Second + time.Second; took > limit { // TTL + 1 slot + 1s for etcd's lease expiry (checked every 500 ms)
		t.Errorf("the next slot is %s after the kill; want within TTL (2s) + 1 slot (+1s slack)", took)
	}

	var survivors []*instance
	for _, in := range ins {
		if in != holder {
			survivors = append(survivors, in)
		}
	}
	testkit.WaitFor(t, 10*time.Second, "the survivors to report the killed slot lost", func() error {
		for _, in := range survivors {
			code, s, err := in.status()
			if err != nil {
				return err
			}
			if code != http.StatusServiceUnavailable || s.Last.Outcome != StateLost || s.Last.Slot != heldSlot || s.Last.Instance != holder.id {
				return fmt.Errorf("%s: %d, Last %+v, Health %q", in.id, code, s.Last, s.Health)
			}
		}
		return nil
	})
	cli := cl.Client(t)
	resp, err := cli.Get(context.Background(), keysFor("e2e").slot(heldTS))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("slot record of %s: %v %v", heldSlot, err, resp)
	}
	var rec Record
	json.Unmarshal(resp.Kvs[0].Value, &rec)
	if rec.State != StateLost || rec.Instance != holder.id {
		t.Errorf("slot record %+v", rec)
	}
	// Let the run in progress finish, then check the killed slot ran once.
	testkit.WaitFor(t, 10*time.Second, "the run after the kill to end", func() error {
		f := strings.Split(next, "|")
		if !slices.Contains(lines(out), "end|"+f[1]) {
			return testkit.ErrNotYet
		}
		return nil
	})
	starts := map[string]int{}
	for _, l := range lines(out) {
		if f := strings.Split(l, "|"); f[0] == "start" {
			starts[f[1]]++
		}
	}
	for slot, n := range starts {
		if n != 1 {
			t.Errorf("slot %s started %d times", slot, n)
		}
	}
	if starts[heldSlot] != 1 {
		t.Errorf("killed slot %s started %d times", heldSlot, starts[heldSlot])
	}
}

// Without etcd quorum every instance answers 503 with the reason and runs
// nothing; with quorum back, scheduling resumes and they answer 200.
func TestE2EEtcdDownAndBack(t *testing.T) {
	cl := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 3})
	out := filepath.Join(t.TempDir(), "runs")
	job := []string{"/bin/sh", "-c", `echo "$GOCRON_SLOT $GOCRON_LOCK_INSTANCE" >> "$0"`, out}
	var ins []*instance
	for i := range 3 {
		ins = append(ins, startInstance(t, fmt.Sprintf("i%d", i), cl.Endpoints(), job...))
	}
	testkit.WaitFor(t, 15*time.Second, "runs and 200 everywhere", func() error {
		if len(lines(out)) < 3 {
			return testkit.ErrNotYet
		}
		for _, in := range ins {
			if code, s, err := in.status(); err != nil || code != http.StatusOK {
				return fmt.Errorf("%s: %d %q %v", in.id, code, s.Health, err)
			}
		}
		return nil
	})

	cl.Kill(t, 1)
	cl.Kill(t, 2) // one member of three left: no quorum
	testkit.WaitFor(t, 15*time.Second, "503 with the reason everywhere", func() error {
		for _, in := range ins {
			code, s, err := in.status()
			if err != nil {
				return err
			}
			if code != http.StatusServiceUnavailable || !strings.Contains(s.Health, "etcd") || !strings.Contains(s.Lock.Etcd, "unreachable") {
				return fmt.Errorf("%s: %d %q", in.id, code, s.Health)
			}
			if in.metric("gocron_lock_etcd_reachable") != 0 {
				return fmt.Errorf("%s: etcd still reported reachable in /metrics", in.id)
			}
		}
		return nil
	})
	_, s, _ := ins[0].status()
	t.Logf("health while etcd is down: %s", s.Health)
	// Fail closed: once each instance has refused two more slots, no run was added.
	base := map[string]float64{}
	for _, in := range ins {
		base[in.id] = in.metric(`gocron_skipped_total{reason="etcd-unreachable"}`)
	}
	before := len(lines(out))
	testkit.WaitFor(t, 20*time.Second, "two slots refused everywhere", func() error {
		for _, in := range ins {
			if n := in.metric(`gocron_skipped_total{reason="etcd-unreachable"}`); n < base[in.id]+2 {
				return fmt.Errorf("%s refused %v", in.id, n-base[in.id])
			}
		}
		return nil
	})
	if after := len(lines(out)); after != before {
		t.Errorf("%d runs happened while etcd had no quorum", after-before)
	}

	cl.Restart(t, 1)
	restored := len(lines(out))
	testkit.WaitFor(t, 20*time.Second, "scheduling to resume and 200 everywhere", func() error {
		if len(lines(out)) < restored+2 {
			return fmt.Errorf("%d runs since etcd came back", len(lines(out))-restored)
		}
		for _, in := range ins {
			if code, s, err := in.status(); err != nil || code != http.StatusOK {
				return fmt.Errorf("%s: %d %q %v", in.id, code, s.Health, err)
			}
		}
		return nil
	})
}

// The etcdctl-style flags reach etcd: TLS with a client certificate and a
// user whose password comes from GOCRON_LOCK_PASSWORD_FILE. The password
// reaches neither the job's environment nor the status port nor the log.
func TestE2ETLSAndAuthFlags(t *testing.T) {
	serverTLS, ca, cert, key := testCerts(t)
	srv := startEtcd(t, &serverTLS)
	enableAuth(t, srv.endpoint, ca, cert, key, "e2e", "cron", "canary-pw-7d1f")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("canary-pw-7d1f\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "env")
	in := startGocron(t, "tls", []string{"--lock-etcd", srv.endpoint, "--lock-cacert", ca, "--lock-cert", cert, "--lock-key", key, "--lock-user", "cron"},
		[]string{"GOCRON_LOCK_PASSWORD_FILE=" + pwFile}, "/bin/sh", "-c", `env >> "$0"; echo "---" >> "$0"`, out)
	testkit.WaitFor(t, 15*time.Second, "a locked run over TLS with auth", func() error {
		code, s, err := in.status()
		if err != nil {
			return err
		}
		if code != http.StatusOK || s.Lock.Etcd != "reachable" || s.Last.Instance != "tls" {
			return fmt.Errorf("%d %q, Last %+v", code, s.Lock.Etcd, s.Last)
		}
		return nil
	})
	env, _ := os.ReadFile(out)
	if !strings.Contains(string(env), "GOCRON_SLOT=") || !strings.Contains(string(env), "GOCRON_LOCK_INSTANCE=tls") {
		t.Errorf("the job's environment lacks GOCRON_SLOT or GOCRON_LOCK_INSTANCE:\n%s", env)
	}
	resp, err := http.Get("http://" + in.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for what, b := range map[string]string{"job environment": string(env), "status": string(body), "log": in.stderr.String()} {
		if strings.Contains(b, "canary-pw-7d1f") {
			t.Errorf("the lock password appears in the %s", what)
		}
	}
}

// Misused lock flags stop go-cron with exit status 2 and one line naming them.
func TestE2ELockUsageErrors(t *testing.T) {
	bin := testkit.Build(t, "cronbox/go-cron")
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--lock-etcd", "http://127.0.0.1:1"}, nil, "--lock-name"},
		{[]string{"--lock-etcd", "http://127.0.0.1:1", "--lock-name", "a/b"}, nil, "name"},
		{[]string{"--lock-etcd", "http://127.0.0.1:1", "--lock-name", "n", "--lock-ttl", "1s"}, nil, "--lock-ttl"},
		{[]string{"--lock-etcd", "http://127.0.0.1:1", "--lock-name", "n", "--overlap"}, nil, "--overlap"},
		{[]string{"--lock-etcd", "http://127.0.0.1:1", "--lock-name", "n", "--run-on-start"}, nil, "--run-on-start"},
		{[]string{"--lock-etcd", "http://127.0.0.1:1", "--lock-name", "n", "--lock-user", "cron"}, nil, "no password"},
		{[]string{"--lock-etcd", "http://127.0.0.1:1", "--lock-name", "n"}, []string{"GOCRON_LOCK_PASSWORD_FILE=/nonexistent"}, "GOCRON_LOCK_PASSWORD_FILE"},
		{[]string{"--lock-name", "n"}, []string{"GOCRON_LOCK_ETCD=http://127.0.0.1:1", "GOCRON_LOCK_CACERT=/nonexistent/ca.pem"}, "CA certificate"},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, append(append([]string{"--status-addr", "off"}, tt.args...), "* * * * * *", "--", "true")...)
		cmd.Env = append(os.Environ(), tt.env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 2 || !strings.Contains(stderr.String(), tt.want) || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("%v %v: exit %d, stderr %q; want 2 and one line naming %q", tt.args, tt.env, code, stderr.String(), tt.want)
		}
	}
}

// With --lock-fail-open an unreachable etcd does not stop the job: it runs
// unlocked, the status stays 200 and says etcd is unreachable.
func TestE2EFailOpen(t *testing.T) {
	srv := startEtcd(t, nil)
	out := filepath.Join(t.TempDir(), "runs")
	in := startGocron(t, "open", []string{"--lock-etcd", srv.endpoint, "--lock-fail-open"}, nil,
		"/bin/sh", "-c", `echo "$GOCRON_SLOT" >> "$0"`, out)
	testkit.WaitFor(t, 15*time.Second, "a locked run", func() error {
		if len(lines(out)) < 1 {
			return testkit.ErrNotYet
		}
		return nil
	})
	srv.stop()
	stopped := len(lines(out))
	testkit.WaitFor(t, 15*time.Second, "runs without etcd, 200, and the reason shown", func() error {
		code, s, err := in.status()
		if err != nil {
			return err
		}
		if n := len(lines(out)); n < stopped+2 || code != http.StatusOK || !strings.Contains(s.Lock.Etcd, "unreachable") {
			return fmt.Errorf("%d runs since etcd stopped, %d, Lock.Etcd %q", n-stopped, code, s.Lock.Etcd)
		}
		return nil
	})
}
