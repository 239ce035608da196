// Package opensearchtest starts a real search node for tests: OpenSearch
// 2.19.6 or 3.9.0, Elasticsearch 7.10.2 or 7.17.29, each in one JVM (built
// from Maven artifacts by testsupport/opensearch/prepare), on free loopback
// ports with a fresh path.home, path.data and path.repo, and waits for green
// cluster health.
//
// A node takes a few seconds and 512 MiB of heap to start, so a test package
// starts one per flavour in TestMain with Start and shares it:
//
//	func TestMain(m *testing.M) {
//		n, err := opensearchtest.Start(opensearchtest.Options{})
//		if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) }
//		code := m.Run()
//		n.Stop()
//		os.Exit(code)
//	}
//
// New does the same for a single test and stops the node when it ends.
package opensearchtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Flavor names which server a node runs.
type Flavor string

const (
	// OpenSearch is OpenSearch 2.19.6 (org.opensearch artifacts).
	OpenSearch Flavor = "opensearch"
	// Elasticsearch is Elasticsearch 7.10.2, the last Apache-2.0 release,
	// whose modules codelibs republishes.
	Elasticsearch Flavor = "elasticsearch"
	// Elasticsearch717 is Elasticsearch 7.17.29, the last 7.x, with
	// Elastic's own transport-netty4-client (no analysis-common module).
	Elasticsearch717 Flavor = "elasticsearch717"
	// OpenSearch3 is OpenSearch 3.9.0; it needs Java 21 or newer (see
	// Options.JavaHome).
	OpenSearch3 Flavor = "opensearch3"
)

// Flavors returns every flavour the harness can run, for suites that run
// against each.
func Flavors() []Flavor { return []Flavor{OpenSearch, Elasticsearch, Elasticsearch717, OpenSearch3} }

// Version is the server version a flavour runs.
func (f Flavor) Version() string {
	return map[Flavor]string{OpenSearch: "2.19.6", Elasticsearch: "7.10.2", Elasticsearch717: "7.17.29", OpenSearch3: "3.9.0"}[f]
}

// minJava is the oldest Java a flavour runs on.
func (f Flavor) minJava() int {
	if f == OpenSearch3 {
		return 21
	}
	return 17
}

// Options configures a node; the zero value is an OpenSearch node with a
// 512 MiB heap in a fresh temporary directory.
type Options struct {
	Flavor   Flavor            // default OpenSearch
	HeapMB   int               // default 512
	Dir      string            // holds home/, data/, repo/; default a temp dir that Stop removes
	Settings map[string]string // extra node settings (key=value), override the defaults
	// JavaHome is the JDK to run; default $JAVA_HOME or java on PATH when
	// it is new enough for the flavour, else the newest JDK in
	// /usr/lib/jvm that is (OpenSearch 3 needs 21+; machines here have
	// Java 17 as the default and a Temurin 25 beside it).
	JavaHome     string
	StartTimeout time.Duration // default 3 minutes (the JVM is slow on a busy 2-core machine)
}

// Node is a running search node.
type Node struct {
	Flavor Flavor
	URL    string // http://127.0.0.1:PORT
	Home   string // path.home
	Data   string // path.data
	Repo   string // path.repo: fs repositories must live under it
	Java   string // the java binary that runs the node

	cmd     *exec.Cmd
	stdin   io.WriteCloser
	exited  chan struct{}
	waitErr error
	logs    *boundedBuffer
	tempDir string
	client  *http.Client
	stop    sync.Once
}

// Start launches a node and waits until it answers green cluster health.
// It runs testsupport/opensearch/prepare first (a no-op when the build is
// current), so a missing Maven or Java shows up here as an error.
func Start(opts Options) (*Node, error) {
	if opts.Flavor == "" {
		opts.Flavor = OpenSearch
	}
	if opts.Flavor.Version() == "" {
		return nil, fmt.Errorf("opensearchtest: unknown flavor %q", opts.Flavor)
	}
	if opts.HeapMB == 0 {
		opts.HeapMB = 512
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	support, err := supportDir()
	if err != nil {
		return nil, err
	}
	java, err := javaBinary(opts.JavaHome, opts.Flavor.minJava())
	if err != nil {
		return nil, fmt.Errorf("opensearchtest: %s %s: %w", opts.Flavor, opts.Flavor.Version(), err)
	}
	if err := prepare(support); err != nil {
		return nil, err
	}

	n := &Node{Flavor: opts.Flavor, Java: java, logs: &boundedBuffer{}, exited: make(chan struct{}),
		client: &http.Client{Timeout: 30 * time.Second}}
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "cronbox-"+string(opts.Flavor)+"-"); err != nil {
			return nil, fmt.Errorf("opensearchtest: %w", err)
		}
		n.tempDir = dir
	}
	n.Home, n.Data, n.Repo = filepath.Join(dir, "home"), filepath.Join(dir, "data"), filepath.Join(dir, "repo")
	for _, d := range []string{n.Home, n.Data, n.Repo} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			n.cleanup()
			return nil, fmt.Errorf("opensearchtest: %w", err)
		}
	}
	ready := filepath.Join(dir, "ready")
	_ = os.Remove(ready)

	settings := map[string]string{
		"path.home":      n.Home,
		"path.data":      n.Data,
		"path.repo":      n.Repo,
		"http.port":      "0", // the node reports the port it bound in the ready file
		"transport.port": "0",
		"cluster.name":   "cronbox-test",
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	heap := strconv.Itoa(opts.HeapMB) + "m"
	// C1 only: a test node lives a minute, and skipping C2 halves the CPU a
	// start costs on a busy 2-core machine (20 s -> 11 s for four nodes).
	args := []string{"-Xms" + heap, "-Xmx" + heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
		"-cp", filepath.Join(support, "target", "opensearch-node-1.jar") + string(os.PathListSeparator) +
			filepath.Join(support, "target", "lib-"+string(opts.Flavor), "*"),
		"cronbox.testsupport.OpenSearchNode", "cronbox.ready_file=" + ready}
	for k, v := range settings {
		args = append(args, k+"="+v)
	}
	n.cmd = exec.Command(java, args...)
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if n.stdin, err = n.cmd.StdinPipe(); err != nil {
		n.cleanup()
		return nil, fmt.Errorf("opensearchtest: %w", err)
	}
	if err := n.cmd.Start(); err != nil {
		n.cleanup()
		return nil, fmt.Errorf("opensearchtest: start %s: %w", java, err)
	}
	go func() { n.waitErr = n.cmd.Wait(); close(n.exited) }()

	deadline := time.Now().Add(opts.StartTimeout)
	if err := n.waitReady(ready, deadline); err != nil {
		n.Stop()
		return nil, fmt.Errorf("opensearchtest: %s node did not start: %w\n%s", opts.Flavor, err, n.Logs())
	}
	return n, nil
}

// New starts a node for one test and stops it when the test ends.
func New(t testing.TB, opts Options) *Node {
	t.Helper()
	n, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("opensearchtest: %s %s on %s runs on %s", n.Flavor, n.Flavor.Version(), n.URL, n.Java)
	t.Cleanup(n.Stop)
	return n
}

func (n *Node) waitReady(ready string, deadline time.Time) error {
	interval := 20 * time.Millisecond
	for {
		select {
		case <-n.exited:
			return fmt.Errorf("the JVM exited: %v", n.waitErr)
		default:
		}
		if b, err := os.ReadFile(ready); err == nil && len(bytes.TrimSpace(b)) > 0 {
			n.URL = "http://" + string(bytes.TrimSpace(b))
			break
		}
		if time.Now().After(deadline) {
			return errors.New("no HTTP address reported before the deadline")
		}
		time.Sleep(interval)
		if interval < 200*time.Millisecond {
			interval *= 2
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var lastErr error
	for ctx.Err() == nil {
		var h struct {
			Status string `json:"status"`
		}
		lastErr = n.JSON(ctx, http.MethodGet, "/_cluster/health?wait_for_status=green&timeout=10s", nil, &h)
		if lastErr == nil && h.Status == "green" {
			return nil
		}
		if lastErr == nil {
			lastErr = fmt.Errorf("cluster health %q", h.Status)
		}
		select {
		case <-n.exited:
			return fmt.Errorf("the JVM exited: %v", n.waitErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("cluster health: %v", lastErr)
}

// Stop ends the node (closing its stdin asks it to close cleanly; it is
// killed if it has not exited after 30 s) and removes its temp dir.
func (n *Node) Stop() {
	n.stop.Do(func() {
		if n.cmd != nil && n.cmd.Process != nil {
			_ = n.stdin.Close()
			select {
			case <-n.exited:
			case <-time.After(30 * time.Second):
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
		}
		n.cleanup()
	})
}

func (n *Node) cleanup() {
	if n.tempDir != "" {
		_ = os.RemoveAll(n.tempDir)
	}
}

// Logs returns what the node printed (warnings and errors) so far.
func (n *Node) Logs() string { return n.logs.String() }

// Do sends one request with a JSON body (nil for none; a string or []byte is
// sent as is, anything else is marshalled) and returns the status and body.
func (n *Node) Do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	if path != "" && strings.Contains(path, "_bulk") {
		req.Header.Set("Content-Type", "application/x-ndjson")
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// JSON sends a request like Do and decodes a 2xx answer into out (which may
// be nil); any other status is an error quoting the answer.
func (n *Node) JSON(ctx context.Context, method, path string, body, out any) error {
	status, b, err := n.Do(ctx, method, path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, status, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

// IndexDocs creates index (one shard, no replicas, so a single node is
// green) and bulk-indexes docs numbered from 0 to count-1, refreshed.
func (n *Node) IndexDocs(ctx context.Context, index string, count int) error {
	settings := map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}
	if err := n.JSON(ctx, http.MethodPut, "/"+index, settings, nil); err != nil {
		return err
	}
	var body bytes.Buffer
	for i := 0; i < count; i++ {
		fmt.Fprintf(&body, "{\"index\":{\"_id\":\"%d\"}}\n{\"n\":%d,\"text\":\"document %d of %s\"}\n", i, i, i, index)
	}
	var res struct {
		Errors bool `json:"errors"`
	}
	if err := n.JSON(ctx, http.MethodPost, "/"+index+"/_bulk?refresh=true", body.Bytes(), &res); err != nil {
		return err
	}
	if res.Errors {
		return fmt.Errorf("bulk into %s: some documents failed", index)
	}
	return nil
}

// Count returns the number of documents in index.
func (n *Node) Count(ctx context.Context, index string) (int, error) {
	var c struct {
		Count int `json:"count"`
	}
	err := n.JSON(ctx, http.MethodGet, "/"+index+"/_count", nil, &c)
	return c.Count, err
}

// prepare runs testsupport/opensearch/prepare under an exclusive lock:
// test binaries of several packages start nodes at the same time, and two
// Maven builds in one target directory would trip over each other.
func prepare(support string) error {
	lockPath := filepath.Join(support, ".prepare.lock")
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("opensearchtest: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("opensearchtest: lock %s: %w", lockPath, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if out, err := exec.Command(filepath.Join(support, "prepare")).CombinedOutput(); err != nil {
		return fmt.Errorf("opensearchtest: %s/prepare: %v\n%s", support, err, out)
	}
	return nil
}

// supportDir finds testsupport/opensearch above the working directory (go
// test runs in the package's directory, somewhere below go.work).
func supportDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("opensearchtest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			s := filepath.Join(dir, "testsupport", "opensearch")
			if _, err := os.Stat(filepath.Join(s, "prepare")); err != nil {
				return "", fmt.Errorf("opensearchtest: %w", err)
			}
			return s, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("opensearchtest: no go.work above the working directory")
		}
		dir = parent
	}
}

// javaBinary finds a java of at least version min: home if given, then
// $JAVA_HOME, java on PATH, and the JDKs in /usr/lib/jvm (newest first).
func javaBinary(home string, min int) (string, error) {
	var candidates []string
	if home != "" {
		candidates = append(candidates, filepath.Join(home, "bin", "java"))
	}
	if h := os.Getenv("JAVA_HOME"); h != "" && home == "" {
		candidates = append(candidates, filepath.Join(h, "bin", "java"))
	}
	if p, err := exec.LookPath("java"); err == nil && home == "" {
		candidates = append(candidates, p)
	}
	if home == "" {
		jdks, _ := filepath.Glob("/usr/lib/jvm/*/bin/java")
		sort.Sort(sort.Reverse(sort.StringSlice(jdks)))
		candidates = append(candidates, jdks...)
	}
	var seen []string
	for _, c := range candidates {
		if !fileExists(c) {
			continue
		}
		v := javaMajor(c)
		seen = append(seen, fmt.Sprintf("%s (%d)", c, v))
		if v >= min {
			return c, nil
		}
	}
	if len(seen) == 0 {
		return "", errors.New("java is not installed: run `make deps`")
	}
	return "", fmt.Errorf("needs Java %d or newer; found only %s (set Options.JavaHome)", min, strings.Join(seen, ", "))
}

// javaMajor reads the JDK's release file (JAVA_VERSION="25.0.3"); 0 when
// it cannot tell.
func javaMajor(java string) int {
	real, err := filepath.EvalSymlinks(java)
	if err != nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(real)), "release"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "JAVA_VERSION="); ok {
			v = strings.Trim(v, `"`)
			major, _, _ := strings.Cut(v, ".")
			if major == "1" { // 1.8.0_x
				return 8
			}
			n, _ := strconv.Atoi(major)
			return n
		}
	}
	return 0
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// boundedBuffer keeps the first and the last 256 KiB of the node's output:
// enough to explain a failed start and a late failure alike.
type boundedBuffer struct {
	mu         sync.Mutex
	head, tail []byte
	dropped    int
}

const half = 256 << 10

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rest := p
	if room := half - len(b.head); room > 0 {
		if room > len(rest) {
			room = len(rest)
		}
		b.head = append(b.head, rest[:room]...)
		rest = rest[room:]
	}
	b.tail = append(b.tail, rest...)
	if over := len(b.tail) - half; over > 0 {
		b.dropped += over
		b.tail = append(b.tail[:0:0], b.tail[over:]...)
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return string(b.head) + string(b.tail)
	}
	return fmt.Sprintf("%s\n... %d bytes dropped ...\n%s", b.head, b.dropped, b.tail)
}
