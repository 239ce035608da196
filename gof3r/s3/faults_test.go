package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cronbox/gof3r/s3"
	"cronbox/testkit"
)

// faultProxy stands between the client and versitygw and misbehaves on
// request. SigV4 signs the Host header, which the proxy passes through
// unchanged, so the real server still checks every signature.
type faultProxy struct {
	requests atomic.Int64
	failing  atomic.Int64 // answer this many part uploads with 503 first
	failed   atomic.Int64
	slowBody atomic.Bool  // dribble response bodies: 16 KiB every 10 ms
	hangBody atomic.Bool  // send 64 KiB of a response body, then nothing
	breaks   atomic.Int64 // cut this many GET response bodies after 64 KiB
	gets     atomic.Int64
	onPart   atomic.Pointer[func(n string)] // called with the part number of each part upload
}

func startProxy(t *testing.T, srv *testkit.S3Server) (*faultProxy, string) {
	t.Helper()
	target, _ := url.Parse(srv.Endpoint)
	fp := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && resp.StatusCode/100 == 2 {
			fp.gets.Add(1)
			if fp.breaks.Add(-1) >= 0 {
				resp.Body = &brokenBody{r: resp.Body, left: 64 << 10}
				return nil
			}
		}
		switch {
		case fp.hangBody.Load():
			resp.Body = &hangingBody{r: resp.Body, left: 64 << 10, ctx: resp.Request.Context()}
		case fp.slowBody.Load():
			resp.Body = &slowBody{r: resp.Body}
		}
		return nil
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fp.requests.Add(1)
		if f := fp.onPart.Load(); f != nil && r.URL.Query().Get("partNumber") != "" {
			(*f)(r.URL.Query().Get("partNumber"))
		}
		if r.URL.Query().Get("partNumber") != "" && fp.failed.Load() < fp.failing.Load() {
			fp.failed.Add(1)
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>injected by the test</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return fp, ts.URL
}

type slowBody struct{ r io.ReadCloser }

func (b *slowBody) Read(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond) // the link's pace, not synchronisation
	return b.r.Read(p[:min(len(p), 16<<10)])
}
func (b *slowBody) Close() error { return b.r.Close() }

type brokenBody struct {
	r    io.ReadCloser
	left int
}

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("connection cut by the test")
	}
	n, err := b.r.Read(p[:min(len(p), b.left)])
	b.left -= n
	return n, err
}
func (b *brokenBody) Close() error { return b.r.Close() }

type hangingBody struct {
	r    io.ReadCloser
	left int
	ctx  context.Context
}

func (b *hangingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		<-b.ctx.Done() // a dead link: nothing until the client gives up
		return 0, b.ctx.Err()
	}
	n, err := b.r.Read(p[:min(len(p), b.left)])
	b.left -= n
	return n, err
}
func (b *hangingBody) Close() error { return b.r.Close() }

func proxiedClient(t *testing.T, srv *testkit.S3Server, endpoint string, cfg s3.Config) *s3.Client {
	t.Helper()
	cfg.Endpoint, cfg.AccessKey = endpoint, srv.AccessKey
	if cfg.SecretKey == "" {
		cfg.SecretKey = srv.SecretKey
	}
	cfg.PartSize = part
	c, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTransientErrorsAreRetried(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "retry")
	fp, ep := startProxy(t, srv)
	fp.failing.Store(3)
	c := proxiedClient(t, srv, ep, s3.Config{MaxRetries: 5})
	data := randomBytes(2*part+10, 11)
	if _, err := c.Put(context.Background(), b, "k", bytes.NewReader(data), s3.PutOptions{}); err != nil {
		t.Fatalf("put through three 503s: %v", err)
	}
	if fp.failed.Load() != 3 {
		t.Fatalf("%d 503s served, want 3", fp.failed.Load())
	}
	var got bytes.Buffer
	if _, err := c.Get(context.Background(), b, "k", &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("get after retried put: %v", err)
	}

	// A budget smaller than the failures: the put fails, naming the part
	// and the server's code, and leaves nothing.
	fp.failed.Store(0)
	fp.failing.Store(100)
	c2 := proxiedClient(t, srv, ep, s3.Config{MaxRetries: 2})
	_, err := c2.Put(context.Background(), b, "k2", bytes.NewReader(data), s3.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") || !strings.Contains(err.Error(), "s3://retry/k2") {
		t.Fatalf("put with the budget exhausted: %v", err)
	}
	direct := newClient(t, srv)
	if ups, _ := direct.ListMultipartUploads(context.Background(), b, "k2"); len(ups) != 0 {
		t.Fatalf("uploads left: %v", ups)
	}
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "perm")
	fp, ep := startProxy(t, srv)
	for _, tc := range []struct {
		name   string
		secret string
		bucket string
		status int
	}{
		{"wrong secret", "wrong", b, 403},
		{"missing bucket", "", "no-such-bucket", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := proxiedClient(t, srv, ep, s3.Config{SecretKey: tc.secret, MaxRetries: 5})
			before := fp.requests.Load()
			_, err := c.Put(context.Background(), tc.bucket, "k", strings.NewReader("small"), s3.PutOptions{})
			var se *s3.Error
			if !errors.As(err, &se) || se.Status != tc.status {
				t.Fatalf("put: %v, want HTTP %d", err, tc.status)
			}
			if n := fp.requests.Load() - before; n != 1 {
				t.Fatalf("%d requests for a permanent error, want 1 (no retries)", n)
			}
		})
	}
}

func TestSlowLinkIsNotAFailureButADeadOneIs(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "slow")
	fp, ep := startProxy(t, srv)
	data := randomBytes(1<<20, 12)
	if _, err := newClient(t, srv).Put(context.Background(), b, "k", bytes.NewReader(data), s3.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const stall = 300 * time.Millisecond
	c := proxiedClient(t, srv, ep, s3.Config{StallTimeout: stall, MaxRetries: 2})

	fp.slowBody.Store(true)
	start := time.Now()
	var got bytes.Buffer
	if _, err := c.Get(context.Background(), b, "k", &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("get over a slow link: %v", err)
	}
	if took := time.Since(start); took < 2*stall {
		t.Fatalf("the slow link took %v, not longer than the stall timeout: the test proves nothing", took)
	}

	fp.slowBody.Store(false)
	fp.hangBody.Store(true)
	start = time.Now()
	_, err := c.Get(context.Background(), b, "k", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no progress") {
		t.Fatalf("get over a dead link: %v, want a stall error", err)
	}
	if took := time.Since(start); took > 20*stall {
		t.Fatalf("a dead link took %v to detect", took)
	}
}

// A download whose connection breaks mid-body resumes where it broke.
func TestGetResumesABrokenDownload(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "resume")
	fp, ep := startProxy(t, srv)
	data := randomBytes(3<<20, 13)
	if _, err := newClient(t, srv).Put(context.Background(), b, "k", bytes.NewReader(data), s3.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	fp.breaks.Store(2)
	c := proxiedClient(t, srv, ep, s3.Config{MaxRetries: 5})
	var got bytes.Buffer
	if _, err := c.Get(context.Background(), b, "k", &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("get through two broken connections: %v (%d bytes)", err, got.Len())
	}
	if n := fp.gets.Load(); n != 3 {
		t.Fatalf("%d GETs, want 3 (two broken, one resumed to the end)", n)
	}
}

// Cancelling a put of a file (the path with no staging key) aborts its
// multipart upload too.
func TestCancelledFilePutLeavesNothing(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "cancelfile")
	fp, ep := startProxy(t, srv)
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, randomBytes(4*part, 14), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	onPart := func(n string) {
		if n == "3" {
			cancel()
		}
	}
	fp.onPart.Store(&onPart)
	c := proxiedClient(t, srv, ep, s3.Config{Concurrency: 1})
	if _, err := c.Put(ctx, b, "k", f, s3.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("put: %v, want cancelled", err)
	}
	assertNothing(t, newClient(t, srv), b)
}
