package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cronbox/gof3r/s3"
	"cronbox/testkit"
)

// full is set by `make reliability`: the 10-minute soak, the OpenSearch
// faults and the long load test run only then.
var full = os.Getenv("RELIABILITY_FULL") != ""

// outcome is one case of the summary table.
type outcome struct {
	category, name string
	survived       bool
	dataLost       bool
	partialAsGood  bool
	known          string // a known finding: what is wrong and whose fix it needs
}

var (
	resultsMu sync.Mutex
	results   []*outcome
)

// track registers the running (sub)test as a case of category; the case
// survived when the test passed. Assertions that find lost data or a partial
// backup passed off as good mark the outcome too.
func track(t *testing.T, category string) *outcome {
	t.Helper()
	o := &outcome{category: category, name: t.Name()}
	resultsMu.Lock()
	results = append(results, o)
	resultsMu.Unlock()
	t.Cleanup(func() { o.survived = !t.Failed() })
	return o
}

// lost fails the test and counts the case as data lost.
func (o *outcome) lost(t *testing.T, format string, a ...any) {
	t.Helper()
	o.dataLost = true
	t.Errorf("DATA LOST: "+format, a...)
}

// partial fails the test and counts a partial backup passed off as good.
func (o *outcome) partial(t *testing.T, format string, a ...any) {
	t.Helper()
	o.partialAsGood = true
	t.Errorf("PARTIAL AS GOOD: "+format, a...)
}

func TestMain(m *testing.M) {
	code := m.Run()
	printSummary(os.Stdout)
	if f := os.Getenv("RELIABILITY_SUMMARY"); f != "" {
		if out, err := os.Create(f); err == nil {
			printSummary(out)
			out.Close()
		}
	}
	os.Exit(code)
}

func printSummary(w io.Writer) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(results) == 0 {
		return
	}
	type row struct{ tried, survived, known, lost, partial int }
	rows := map[string]*row{}
	var known []string
	for _, o := range results {
		r := rows[o.category]
		if r == nil {
			r = &row{}
			rows[o.category] = r
		}
		r.tried++
		switch {
		case o.survived && o.known != "":
			r.known++
		case o.survived:
			r.survived++
		}
		if o.dataLost {
			r.lost++
		}
		if o.partialAsGood {
			r.partial++
		}
		if o.known != "" {
			known = append(known, fmt.Sprintf("  %s: %s", o.name, o.known))
		}
	}
	cats := make([]string, 0, len(rows))
	for c := range rows {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	var total row
	fmt.Fprintf(w, "\nreliability summary (known: the tool is wrong, the case asserts today's behaviour)\n")
	fmt.Fprintf(w, "| %-22s | %5s | %8s | %5s | %9s | %15s |\n", "category", "tried", "survived", "known", "data lost", "partial-as-good")
	fmt.Fprintf(w, "|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 24), strings.Repeat("-", 7), strings.Repeat("-", 10), strings.Repeat("-", 7), strings.Repeat("-", 11), strings.Repeat("-", 17))
	for _, c := range cats {
		r := rows[c]
		fmt.Fprintf(w, "| %-22s | %5d | %8d | %5d | %9d | %15d |\n", c, r.tried, r.survived, r.known, r.lost, r.partial)
		total.tried += r.tried
		total.survived += r.survived
		total.known += r.known
		total.lost += r.lost
		total.partial += r.partial
	}
	fmt.Fprintf(w, "| %-22s | %5d | %8d | %5d | %9d | %15d |\n", "total", total.tried, total.survived, total.known, total.lost, total.partial)
	if soakReport != "" {
		fmt.Fprintln(w, soakReport)
	}
	for _, l := range loadReport {
		fmt.Fprintln(w, l)
	}
	if len(known) > 0 {
		sort.Strings(known)
		fmt.Fprintf(w, "known findings (the test asserts today's behaviour; the owner's fix is pending):\n%s\n", strings.Join(known, "\n"))
	}
}

// bins builds every tool (once per test binary: testkit.Build caches) and
// returns a directory holding them under their image names (go-cron, gof3r,
// etcd-backup, ep, es-snapshot), for PATH.
var (
	binsMu  sync.Mutex
	binsDir string
)

func bins(t testing.TB) string {
	t.Helper()
	binsMu.Lock()
	defer binsMu.Unlock()
	if binsDir != "" {
		return binsDir
	}
	dir, err := os.MkdirTemp("", "cronbox-reliability-bin-")
	if err != nil {
		t.Fatalf("bins: %v", err)
	}
	for name, pkg := range map[string]string{
		"go-cron": "cronbox/go-cron", "gof3r": "cronbox/gof3r", "etcd-backup": "cronbox/etcd-backup",
		"ep": "cronbox/envplate", "es-snapshot": "cronbox/es-snapshot",
	} {
		if err := os.Symlink(testkit.Build(t, pkg), filepath.Join(dir, name)); err != nil {
			t.Fatalf("bins: %v", err)
		}
	}
	binsDir = dir
	return dir
}

func bin(t testing.TB, name string) string { return filepath.Join(bins(t), name) }

// proc is a started program with its output captured.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *testkit.Buffer
	done           chan struct{}
	code           int
}

// start runs name (a tool from bins, or a path) with exactly env (plus PATH
// with the tools first), stdin, args, bounded by two minutes.
func start(t testing.TB, env []string, stdin io.Reader, name string, args ...string) *proc {
	t.Helper()
	return startIn(t, "", env, stdin, name, args...)
}

// startIn is start with the working directory dir ("": the test's).
func startIn(t testing.TB, dir string, env []string, stdin io.Reader, name string, args ...string) *proc {
	t.Helper()
	return startFor(t, 3*time.Minute, dir, env, stdin, name, args...)
}

// startFor is startIn with a bound of its own (the soak runs for minutes).
func startFor(t testing.TB, limit time.Duration, dir string, env []string, stdin io.Reader, name string, args ...string) *proc {
	t.Helper()
	path := name
	if !strings.Contains(name, "/") {
		path = bin(t, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append([]string{"PATH=" + bins(t) + ":/usr/bin:/bin", "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir()}, env...)
	p := &proc{cmd: cmd, stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	cmd.Stdin = stdin
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) wait(t testing.TB) int {
	t.Helper()
	<-p.done
	t.Logf("%s %s -> %d\nstderr: %s", filepath.Base(p.cmd.Path), strings.Join(p.cmd.Args[1:], " "), p.code, tail(p.stderr.String(), 2000))
	return p.code
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func runTool(t testing.TB, env []string, stdin io.Reader, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	p := start(t, env, stdin, name, args...)
	code = p.wait(t)
	return p.stdout.String(), p.stderr.String(), code
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// randomBytes returns n random bytes and their hex SHA-256.
func randomBytes(t testing.TB, n int) ([]byte, string) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// store is a direct client of the S3 server (not through any proxy), the
// judge of what really is in the bucket.
type store struct {
	c      *s3.Client
	bucket string
	srv    *testkit.S3Server
}

func newStore(t testing.TB) *store {
	t.Helper()
	srv := testkit.Versitygw(t)
	c, err := s3.New(s3.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: "us-east-1", MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	return &store{c: c, bucket: srv.Bucket(t, "backups"), srv: srv}
}

// env is what a tool needs to reach the bucket through endpoint (a proxy's
// URL, or the server's own).
func (s *store) env(endpoint string) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.srv.SecretKey,
		"AWS_REGION=us-east-1", "AWS_S3_ENDPOINT=" + endpoint, "AWS_S3_BUCKET=" + s.bucket,
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// good fails unless key holds exactly the bytes whose SHA-256 is sum, read
// back through gof3r/s3 (which checks the recorded checksum too).
func (s *store) good(t *testing.T, o *outcome, key, sum string) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := s.c.Get(ctx(t), s.bucket, key, &buf); err != nil {
		o.lost(t, "get %s after a run that succeeded: %v", key, err)
		return
	}
	got := sha256.Sum256(buf.Bytes())
	if hex.EncodeToString(got[:]) != sum {
		o.partial(t, "%s: sha256 %x, want %s (%d bytes)", key, got, sum, buf.Len())
	}
}

// clean fails if anything sits under key (a failed run must leave nothing)
// or, when noUploads, if any multipart upload is left in the bucket.
func (s *store) clean(t *testing.T, o *outcome, key string, noUploads bool) {
	t.Helper()
	if obj, err := s.c.Stat(ctx(t), s.bucket, key); err == nil {
		o.partial(t, "a failed run left %d bytes under the final key %s", obj.Size, key)
	}
	if !noUploads {
		return
	}
	ups, err := s.c.ListMultipartUploads(ctx(t), s.bucket, "")
	if err != nil {
		t.Errorf("list multipart uploads: %v", err)
	}
	if len(ups) > 0 {
		t.Errorf("multipart uploads left behind: %v", ups)
	}
}

// waitUpload waits until an upload into the bucket is under way: a
// multipart upload exists on the server (so the fault lands mid-body).
func (s *store) waitUpload(t *testing.T, p *proc) {
	t.Helper()
	testkit.WaitFor(t, time.Minute, "a multipart upload in progress", func() error {
		if p.exited() {
			return nil
		}
		ups, err := s.c.ListMultipartUploads(context.Background(), s.bucket, "")
		if err != nil || len(ups) == 0 {
			return testkit.ErrNotYet
		}
		return nil
	})
	if p.exited() {
		t.Fatalf("the upload ended before the fault: exit %d: %s", p.code, p.stderr.String())
	}
}
