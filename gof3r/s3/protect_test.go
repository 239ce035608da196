package s3_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cronbox/gof3r/s3"
	"cronbox/testkit"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// rawClient is a plain minio-go client, for what the package under test
// does not do: creating buckets with object lock, writing objects the way
// other tools do.
func rawClient(t *testing.T, srv *testkit.S3Server) *minio.Client {
	t.Helper()
	mc, err := minio.New(srv.Host, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

func makeBucket(t *testing.T, srv *testkit.S3Server, name string, lock bool) string {
	t.Helper()
	if err := rawClient(t, srv).MakeBucket(context.Background(), name, minio.MakeBucketOptions{ObjectLocking: lock}); err != nil {
		t.Fatalf("create bucket %s (object lock %v): %v", name, lock, err)
	}
	return name
}

// recorded is one request that passed the recording proxy.
type recorded struct {
	method string
	query  url.Values
	header http.Header
}

// kind names an S3 request by its shape.
func (r recorded) kind() string {
	q := r.query
	switch {
	case r.method == http.MethodPost && q.Has("uploads"):
		return "create"
	case r.method == http.MethodPut && q.Has("partNumber"):
		return "part"
	case r.method == http.MethodPost && q.Has("uploadId"):
		return "complete"
	case r.method == http.MethodDelete && q.Has("uploadId"):
		return "abort"
	case r.method == http.MethodPut:
		return "put"
	case r.method == http.MethodHead:
		return "head"
	case r.method == http.MethodGet && !q.Has("uploads"):
		return "get"
	}
	return r.method
}

// recorder is a proxy in front of versitygw that keeps every request's
// headers (SigV4 signs the Host header, which it passes through, so the
// server still checks every signature), and can refuse requests.
type recorder struct {
	mu     sync.Mutex
	reqs   []recorded
	refuse func(recorded) (status int, code string) // 0: pass the request on
}

func startRecorder(t *testing.T, srv *testkit.S3Server) (*recorder, string) {
	t.Helper()
	target, _ := url.Parse(srv.Endpoint)
	rec := &recorder{}
	rp := httputil.NewSingleHostReverseProxy(target)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		one := recorded{method: r.Method, query: r.URL.Query(), header: r.Header.Clone()}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, one)
		refuse := rec.refuse
		rec.mu.Unlock()
		if refuse != nil {
			if status, code := refuse(one); status != 0 {
				r.Body.Close()
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(status)
				w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>refused by the test</Message></Error>`))
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return rec, ts.URL
}

func (r *recorder) take() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func (r *recorder) setRefuse(f func(recorded) (int, string)) {
	r.mu.Lock()
	r.refuse = f
	r.mu.Unlock()
}

func TestObjectLock(t *testing.T) {
	srv := testkit.VersitygwWith(t, testkit.VersitygwOptions{Versioning: true})
	locked := makeBucket(t, srv, "locked", true)
	plain := makeBucket(t, srv, "plain", false)
	rec, ep := startRecorder(t, srv)
	c := proxiedClient(t, srv, ep, s3.Config{Concurrency: 2})
	ctx := context.Background()
	now := time.Now()
	dir := t.TempDir()
	file := filepath.Join(dir, "in")
	os.WriteFile(file, randomBytes(3*part+7, 3), 0o600)
	for _, tc := range []struct {
		name string
		in   func() any
		mode string
	}{
		{"single", func() any { return bytes.NewReader([]byte("small")) }, s3.LockCompliance},
		{"stream", func() any { return onlyReader{bytes.NewReader(randomBytes(3*part+1, 1))} }, s3.LockGovernance},
		{"file", func() any { f, _ := os.Open(file); t.Cleanup(func() { f.Close() }); return f }, s3.LockCompliance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lock := s3.LockFor(tc.mode, 24*time.Hour, now)
			rec.take()
			obj, err := c.Put(ctx, locked, tc.name, tc.in().(interface{ Read([]byte) (int, error) }), s3.PutOptions{Lock: lock})
			if err != nil {
				t.Fatal(err)
			}
			// A bucket with object lock wants a checksum on every object
			// and every part (AWS refuses them without): each carries one.
			for _, r := range rec.take() {
				switch r.kind() {
				case "put", "part":
					if r.header.Get("X-Amz-Checksum-Crc64nvme") == "" {
						t.Errorf("%s request without x-amz-checksum-crc64nvme: %v", r.kind(), r.header)
					}
					// Plain http: the payload is signed too.
					if sha := r.header.Get("X-Amz-Content-Sha256"); len(sha) != 64 {
						t.Errorf("%s request over http with x-amz-content-sha256 %q, want the payload's SHA-256", r.kind(), sha)
					}
					fallthrough
				case "create":
					if r.kind() != "part" && (r.header.Get("X-Amz-Object-Lock-Mode") != tc.mode || r.header.Get("X-Amz-Object-Lock-Retain-Until-Date") != lock.Until.Format(time.RFC3339)) {
						t.Errorf("%s request without the lock: %v", r.kind(), r.header)
					}
				}
			}
			st, err := c.Stat(ctx, locked, tc.name)
			if err != nil || st.Lock.Mode != tc.mode || !st.Lock.Until.Equal(lock.Until) || !st.Lock.Active(now) {
				t.Fatalf("stat: %+v %v, want lock %s", st.Lock, err, lock)
			}
			if obj.VersionID == "" || st.VersionID != obj.VersionID {
				t.Fatalf("version ids: put %q, stat %q", obj.VersionID, st.VersionID)
			}
			// Removing the locked version is refused, and says why.
			err = c.RemoveWithOptions(ctx, locked, tc.name, s3.RemoveOptions{VersionID: obj.VersionID})
			if !errors.Is(err, s3.ErrLocked) || !strings.Contains(err.Error(), "AccessDenied") {
				t.Fatalf("remove of a locked version: %v, want ErrLocked", err)
			}
			if _, err := c.StatWithOptions(ctx, locked, tc.name, s3.StatOptions{VersionID: obj.VersionID}); err != nil {
				t.Fatalf("the locked version is gone: %v", err)
			}
		})
	}
	// A lock on a bucket without object lock: a clear error naming the
	// bucket, and nothing left.
	for _, in := range []func() any{
		func() any { return strings.NewReader("small") },
		func() any { return onlyReader{bytes.NewReader(randomBytes(3*part+1, 2))} },
	} {
		_, err := c.Put(ctx, plain, "k", in().(interface{ Read([]byte) (int, error) }), s3.PutOptions{Lock: s3.LockFor(s3.LockGovernance, time.Hour, now)})
		if err == nil || !strings.Contains(err.Error(), "bucket plain was not created with object lock enabled") {
			t.Fatalf("lock on a plain bucket: %v", err)
		}
		assertNothing(t, newClient(t, srv), plain)
	}
}

// A bucket without versions (versitygw's default) refuses to remove a
// locked object outright.
func TestRemoveLockedObjectIsRefused(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := makeBucket(t, srv, "nover", true)
	c := newClient(t, srv)
	ctx := context.Background()
	lock := s3.LockFor(s3.LockCompliance, time.Hour, time.Now())
	if _, err := c.Put(ctx, b, "k", strings.NewReader("keep me"), s3.PutOptions{Lock: lock}); err != nil {
		t.Fatal(err)
	}
	err := c.Remove(ctx, b, "k")
	if !errors.Is(err, s3.ErrLocked) || !strings.Contains(err.Error(), "the object is locked (COMPLIANCE until "+lock.Until.Format(time.RFC3339)+")") {
		t.Fatalf("remove: %v, want ErrLocked saying until when", err)
	}
	var buf bytes.Buffer
	if _, err := c.Get(ctx, b, "k", &buf); err != nil || buf.String() != "keep me" {
		t.Fatalf("get after the refused remove: %v %q", err, buf.String())
	}
}

// versitygw stores no SSE (it accepts the headers and ignores them), so
// what is tested is what S3 would act on: the request headers.
func TestSSERequestHeaders(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "sse")
	rec, ep := startRecorder(t, srv)
	c := proxiedClient(t, srv, ep, s3.Config{Concurrency: 2})
	ctx := context.Background()
	key := bytes.Repeat([]byte{7}, 32)
	keyB64 := base64.StdEncoding.EncodeToString(key)
	for _, tc := range []struct {
		sse   s3.SSE
		every map[string]string // on the create or put request
		reads map[string]string // on every request that touches the bytes
	}{
		{s3.SSE{Mode: s3.SSES3}, map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}, nil},
		{s3.SSE{Mode: s3.SSEKMS, KMSKeyID: "arn:aws:kms:eu-west-1:1:key/k"},
			map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "arn:aws:kms:eu-west-1:1:key/k"}, nil},
		{s3.SSE{Mode: s3.SSEC, CustomerKey: key}, nil, map[string]string{
			"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256",
			"X-Amz-Server-Side-Encryption-Customer-Key":       keyB64,
		}},
	} {
		t.Run(tc.sse.Mode, func(t *testing.T) {
			for _, size := range []int{100, 3*part + 1} {
				rec.take()
				data := randomBytes(size, uint64(size))
				if _, err := c.Put(ctx, b, "k", onlyReader{bytes.NewReader(data)}, s3.PutOptions{SSE: tc.sse}); err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if _, err := c.GetWithOptions(ctx, b, "k", &got, s3.GetOptions{SSE: tc.sse}); err != nil || !bytes.Equal(got.Bytes(), data) {
					t.Fatalf("get: %v", err)
				}
				if _, err := c.StatWithOptions(ctx, b, "k", s3.StatOptions{SSE: tc.sse}); err != nil {
					t.Fatal(err)
				}
				kinds := map[string]int{}
				for _, r := range rec.take() {
					k := r.kind()
					kinds[k]++
					want := map[string]string{}
					if k == "create" || k == "put" {
						for h, v := range tc.every {
							want[h] = v
						}
					}
					if k != "abort" {
						for h, v := range tc.reads {
							want[h] = v
						}
					}
					for h, v := range want {
						if got := r.header.Get(h); got != v {
							t.Errorf("%s request: %s %q, want %q", k, h, got, v)
						}
					}
					if tc.sse.Mode != s3.SSEC && r.header.Get("X-Amz-Server-Side-Encryption-Customer-Key") != "" {
						t.Errorf("%s request carries a customer key", k)
					}
					if (k == "part" || k == "get" || k == "head") && r.header.Get("X-Amz-Server-Side-Encryption") != "" {
						t.Errorf("%s request names the encryption (S3 refuses that): %v", k, r.header)
					}
				}
				if size > part && (kinds["create"] != 1 || kinds["part"] != 4 || kinds["complete"] != 1) {
					t.Errorf("requests %v, want one multipart upload of 4 parts", kinds)
				}
			}
		})
	}
	// The key never shows in an error.
	_, err := c.Put(ctx, "no-such-bucket", "k", strings.NewReader("x"), s3.PutOptions{SSE: s3.SSE{Mode: s3.SSEC, CustomerKey: key}})
	if err == nil || strings.Contains(err.Error(), keyB64) {
		t.Fatalf("put to a missing bucket: %v", err)
	}
	// Nor goes out in clear text beyond this machine.
	far, _ := s3.New(s3.Config{Endpoint: "http://192.0.2.1:9", AccessKey: "a", SecretKey: "b", MaxRetries: 1})
	_, err = far.Put(ctx, b, "k", strings.NewReader("x"), s3.PutOptions{SSE: s3.SSE{Mode: s3.SSEC, CustomerKey: key}})
	if err == nil || !strings.Contains(err.Error(), "clear text") {
		t.Fatalf("SSE-C over plain http to another host: %v", err)
	}
}

// Versions: Put reports the version it wrote; Get and Stat read an older one.
func TestVersions(t *testing.T) {
	srv := testkit.VersitygwWith(t, testkit.VersitygwOptions{Versioning: true})
	b := makeBucket(t, srv, "versioned", false)
	if err := rawClient(t, srv).EnableVersioning(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv)
	ctx := context.Background()
	old := randomBytes(2*part+5, 1)
	o1, err := c.Put(ctx, b, "k", onlyReader{bytes.NewReader(old)}, s3.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o2, err := c.Put(ctx, b, "k", strings.NewReader("new"), s3.PutOptions{})
	if err != nil || o1.VersionID == "" || o2.VersionID == "" || o1.VersionID == o2.VersionID {
		t.Fatalf("puts: %q %q %v", o1.VersionID, o2.VersionID, err)
	}
	var got bytes.Buffer
	g, err := c.GetWithOptions(ctx, b, "k", &got, s3.GetOptions{VersionID: o1.VersionID})
	if err != nil || !bytes.Equal(got.Bytes(), old) || g.VersionID != o1.VersionID || g.Checksum != o1.Checksum {
		t.Fatalf("get of the old version: %v (%+v)", err, g)
	}
	if st, err := c.StatWithOptions(ctx, b, "k", s3.StatOptions{VersionID: o1.VersionID}); err != nil || st.Size != int64(len(old)) {
		t.Fatalf("stat of the old version: %+v %v", st, err)
	}
	if err := c.RemoveWithOptions(ctx, b, "k", s3.RemoveOptions{VersionID: o1.VersionID}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetWithOptions(ctx, b, "k", &got, s3.GetOptions{VersionID: o1.VersionID}); err == nil {
		t.Fatal("a removed version still reads")
	}
	got.Reset()
	if _, err := c.Get(ctx, b, "k", &got); err != nil || got.String() != "new" {
		t.Fatalf("current version after removing the old one: %v %q", err, got.String())
	}
}
