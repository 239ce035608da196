package reliability

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/reliability/faults"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// endless is a stream that never ends: an upload of it is always mid-body
// until the process dies.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

// SIGKILL of gof3r mid-upload: the final key never shows anything. The
// multipart upload cannot be aborted by a dead process; it stays listed as
// an upload (never an object: only a completion, with its checksum, makes
// one), and a bucket lifecycle rule, AbortIncompleteMultipartUpload,
// cleans it (README says so).
func TestProcessKillGof3rMidUpload(t *testing.T) {
	o := track(t, "process faults")
	st := newStore(t)
	key := "killed/object.bin"
	p := start(t, st.env(st.srv.Endpoint), endless{}, "gof3r", "put", "-b", st.bucket, "-k", key, "--endpoint", st.srv.Endpoint, "--no-progress")
	st.waitUpload(t, p)
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)
	st.clean(t, o, key, false)
	objs, _ := st.c.List(ctx(t), st.bucket, "")
	if len(objs) != 0 {
		o.partial(t, "a killed upload left objects in the listing: %v", objs)
	}
	ups, _ := st.c.ListMultipartUploads(ctx(t), st.bucket, "")
	t.Logf("left behind for a lifecycle rule: %v", ups)
}

// SIGKILL of etcd-backup mid-upload: nothing under the final key, and the
// previous good backup still verifies and survives a prune.
func TestProcessKillEtcdBackupMidUpload(t *testing.T) {
	o := track(t, "process faults")
	st := newStore(t)
	e := etcdtest.Embed(t, etcdtest.Options{})
	seedEtcd(t, e.Endpoint)
	env := st.env(st.srv.Endpoint)
	prev := "s3://" + st.bucket + "/etcd/20260101T000000Z.db"
	if _, _, code := runTool(t, env, nil, "etcd-backup", "save", "--endpoints", e.Endpoint, prev); code != 0 {
		t.Fatal("seed backup failed")
	}
	sp := faults.New(t, st.srv.Host)
	sp.Add(t, faults.Upstream, "bandwidth", faults.Attrs{"rate": 1000})
	key := "etcd/20261127T030000Z.db"
	p := start(t, st.env(sp.URL()), nil, "etcd-backup", "save", "--endpoints", e.Endpoint, "s3://"+st.bucket+"/"+key)
	st.waitUpload(t, p)
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)
	st.clean(t, o, key, false)
	if _, _, code := runTool(t, env, nil, "etcd-backup", "prune", "--keep-last", "1", "--prefix", "etcd/", "s3://"+st.bucket+"/etcd/"); code != 0 {
		t.Error("prune failed")
	}
	if _, stderr, code := runTool(t, env, nil, "etcd-backup", "verify", prev); code != 0 {
		o.lost(t, "the previous good backup is gone or broken after a killed run and a prune: %s", stderr)
	}
}

// SIGKILL of an etcd member mid-save (Debian etcd 3.4, 3 members): the save
// either ends in a backup that restores, or exits 1 with nothing under the key.
func TestProcessKillEtcdMemberMidSave(t *testing.T) {
	o := track(t, "process faults")
	st := newStore(t)
	c := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 3})
	seedEtcd(t, c.Endpoints()[0])
	// Slow the snapshot stream from member 0 so the kill lands mid-save.
	p0 := faults.New(t, strings.TrimPrefix(c.Endpoints()[0], "http://"))
	p0.Add(t, faults.Downstream, "bandwidth", faults.Attrs{"rate": 500})
	key := "etcd/member-killed.db"
	url := "s3://" + st.bucket + "/" + key
	p := start(t, st.env(st.srv.Endpoint), nil, "etcd-backup", "save", "--endpoints", p0.URL()+","+c.Endpoints()[1], url)
	st.waitUpload(t, p)
	c.Kill(t, 0)
	code := p.wait(t)
	switch code {
	case 0:
		restores(t, o, st.env(st.srv.Endpoint), url)
	case 1:
		if !strings.Contains(p.stderr.String(), "etcd") {
			t.Errorf("the reason does not name etcd: %s", p.stderr.String())
		}
		st.clean(t, o, key, true)
	default:
		t.Errorf("exit %d, want 0 or 1", code)
	}
	c.Restart(t, 0)
}

type statusJSON struct {
	Running map[string]any
	Last    *struct {
		Exit_status int
		Pid         int
		Stdout      string
		Stderr      string
	}
}

func getStatus(addr string) (int, statusJSON, []byte, error) {
	var s statusJSON
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		return 0, s, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, s, nil, err
	}
	err = json.Unmarshal(b, &s)
	return resp.StatusCode, s, b, err
}

func statusAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
}

// SIGTERM of go-cron mid-run: the job (gof3r uploading an endless stream)
// gets SIGTERM, aborts its upload (nothing under the key, no multipart
// upload left), and go-cron exits.
func TestProcessTermGoCronMidRun(t *testing.T) {
	o := track(t, "process faults")
	st := newStore(t)
	key := "cron/term.bin"
	addr := statusAddr(t)
	script := filepath.Join(t.TempDir(), "job.sh")
	os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\nexec gof3r put -b %s -k %s --endpoint %s --no-progress < /dev/zero\n", st.bucket, key, st.srv.Endpoint)), 0o755)
	p := start(t, st.env(st.srv.Endpoint), nil, "go-cron", "--status-addr", addr, "--run-on-start", "--grace", "20s", "@every 1h", "--", script)
	st.waitUpload(t, p)
	testkit.WaitFor(t, 10*time.Second, "the run on the status port", func() error {
		_, s, _, err := getStatus(addr)
		if err != nil || len(s.Running) == 0 {
			return testkit.ErrNotYet
		}
		return nil
	})
	termAt := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.wait(t); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("go-cron did not exit within 30 s of SIGTERM")
	}
	t.Logf("go-cron exit %d after SIGTERM in %s; stderr %s", p.code, time.Since(termAt), tail(p.stderr.String(), 1500))
	st.clean(t, o, key, true)
}

// A backup job that fails under go-cron: status 503, the reason in
// Last.Stderr, exit status 1 in Last.
func TestProcessFailingJobIs503(t *testing.T) {
	o := track(t, "process faults")
	st := newStore(t)
	sp := faults.New(t, st.srv.Host)
	sp.Down(t)
	key := "cron/fail.bin"
	addr := statusAddr(t)
	script := filepath.Join(t.TempDir(), "job.sh")
	os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\nhead -c 1000000 /dev/zero | gof3r put -b %s -k %s --endpoint %s --no-progress --retries 2\n", st.bucket, key, sp.URL())), 0o755)
	p := start(t, st.env(sp.URL()), nil, "go-cron", "--status-addr", addr, "--run-on-start", "@every 1h", "--", script)
	var code int
	var s statusJSON
	testkit.WaitFor(t, time.Minute, "the failed run on the status port", func() error {
		var err error
		code, s, _, err = getStatus(addr)
		if err != nil || s.Last == nil || s.Last.Pid == 0 {
			return testkit.ErrNotYet
		}
		return nil
	})
	if code != http.StatusServiceUnavailable || s.Last.Exit_status != 1 {
		t.Errorf("status %d, Exit_status %d; want 503 and 1", code, s.Last.Exit_status)
	}
	if !strings.Contains(s.Last.Stderr, "gof3r") || !strings.Contains(s.Last.Stderr, sp.Addr) {
		t.Errorf("Last.Stderr does not say what failed: %q", s.Last.Stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	st.clean(t, o, key, true)
}
