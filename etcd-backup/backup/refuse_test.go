package backup

// Defect 13.1: when S3 refused a large save early, Save read the trailer
// digest while the upload's reading goroutine was still hashing into it
// ("panic: d.nx != 0", 8-17% of runs). These tests run the Saver in the test
// process (so -race sees both goroutines) against a real etcd and a real S3
// server, with a stream several times larger than every buffer, and an S3
// that refuses at the start, mid-stream and at completion.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cronbox/etcd-backup/etcdconn"
	"cronbox/gof3r/s3"
	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// refusingS3 is a reverse proxy in front of a real S3 server that answers
// 403 AccessDenied to the requests refuse picks (and passes the rest,
// signatures and all: the Host header is kept).
func refusingS3(t *testing.T, target string, refuse func(r *http.Request) bool) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse(r) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>refused by the test</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func s3Store(t *testing.T, srv *testkit.S3Server, endpoint string) Store {
	t.Helper()
	env := map[string]string{}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	env["AWS_S3_ENDPOINT"] = endpoint
	cfg, err := s3.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.PartSize, cfg.Concurrency, cfg.MaxRetries = 5<<20, 3, 2
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return S3Store{C: c}
}

func TestSaveS3RefusesLargeStream(t *testing.T) {
	s3srv := testkit.Versitygw(t)
	bucket := s3srv.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	cli := src.Client(t)
	v := strings.Repeat("x", 512<<10)
	for i := 0; i < 48; i++ { // 24 MiB: five 5 MiB parts, more than 3 in flight
		if _, err := cli.Put(context.Background(), fmt.Sprintf("/big/%03d", i), v); err != nil {
			t.Fatal(err)
		}
	}
	isCreate := func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Query().Has("uploads") }
	isPart := func(n string) func(r *http.Request) bool {
		return func(r *http.Request) bool { return r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == n }
	}
	isComplete := func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Query().Has("uploadId") }
	for _, tc := range []struct {
		name   string
		bucket string
		refuse func(r *http.Request) bool
	}{
		{"missing bucket", "no-such-bucket", nil},
		{"bucket name too short", "bk", nil},
		{"refused at start", bucket, isCreate},
		{"refused mid-stream (part 3)", bucket, isPart("3")},
		{"refused at completion", bucket, isComplete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := s3srv.Endpoint
			if tc.refuse != nil {
				endpoint = refusingS3(t, s3srv.Endpoint, tc.refuse)
			}
			// Several rounds: the race was a matter of timing.
			for round := 0; round < 3; round++ {
				key := fmt.Sprintf("refused-%d.db", round)
				s := &Saver{
					Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
					Conn:  etcdconn.Config{Endpoints: []string{src.Endpoint}, DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second},
					Store: s3Store(t, s3srv, endpoint),
					Now:   time.Now,
				}
				res, err := s.Save(context.Background(), Location{Kind: S3, Bucket: tc.bucket, Key: key})
				if err == nil {
					t.Fatalf("save succeeded: %+v", res)
				}
				if !strings.Contains(err.Error(), "S3") {
					t.Errorf("error does not say S3 failed: %v", err)
				}
				if _, statErr := os.Stat(filepath.Join(s3srv.Dir, bucket, key)); !os.IsNotExist(statErr) {
					t.Fatalf("an object is under the key: %v", statErr)
				}
			}
		})
	}
}
