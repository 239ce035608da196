package esclient

import (
	"bytes"
	"context"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const osInfo = `{"version":{"distribution":"opensearch","number":"2.19.6"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`

// recorder is a tiny server that answers GET / and records each request's
// headers; the real node cannot show us what we sent.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, r.Clone(context.Background()))
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/":
		w.Write([]byte(osInfo))
	case r.Method == http.MethodPut:
		w.Write([]byte(`{"accepted":true}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"type":"snapshot_missing_exception","reason":"[r:s] is missing"},"status":404}`))
	}
}

func TestAuthHeadersAndContentType(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"none", Config{}, ""},
		{"basic", Config{Username: "elastic", Password: "pw"}, "Basic ZWxhc3RpYzpwdw=="},
		{"basic from the URL", Config{URL: "http://elastic:pw@HOST"}, "Basic ZWxhc3RpYzpwdw=="},
		{"api key", Config{APIKey: "aWQ6a2V5"}, "ApiKey aWQ6a2V5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			cfg := c.cfg
			if cfg.URL == "" {
				cfg.URL = srv.URL
			} else {
				cfg.URL = strings.Replace(cfg.URL, "HOST", strings.TrimPrefix(srv.URL, "http://"), 1)
			}
			cl, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(cl.Host(), "pw") {
				t.Fatalf("Host() shows the password: %s", cl.Host())
			}
			ctx := context.Background()
			if _, err := cl.Info(ctx); err != nil {
				t.Fatal(err)
			}
			if err := cl.CreateSnapshot(ctx, "r", "s", CreateRequest{}); err != nil {
				t.Fatal(err)
			}
			if s, err := cl.GetSnapshot(ctx, "r", "s"); s != nil || err != nil {
				t.Fatalf("missing snapshot: %v, %v", s, err)
			}
			for _, r := range rec.reqs {
				if got := r.Header.Get("Content-Type"); got != "application/json" {
					t.Errorf("%s %s: Content-Type %q", r.Method, r.URL.Path, got)
				}
				if got := r.Header.Get("Authorization"); got != c.want {
					t.Errorf("%s %s: Authorization %q, want %q", r.Method, r.URL.Path, got, c.want)
				}
			}
		})
	}
	if _, err := New(Config{URL: "http://x", APIKey: "k", Username: "u"}); err == nil {
		t.Fatal("an API key and a username together were accepted")
	}
	if _, err := New(Config{URL: "ftp://x"}); err == nil {
		t.Fatal("an ftp URL was accepted")
	}
}

func TestTLSWithCAFileAndLoudSkipVerify(t *testing.T) {
	srv := httptest.NewTLSServer(&recorder{})
	defer srv.Close()
	ctx := context.Background()

	// No CA: the self-signed test certificate is refused.
	cl, err := New(Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Info(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: err = %v", err)
	}

	// Its CA in a file: trusted.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cl, err = New(Config{URL: srv.URL, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Info(ctx); err != nil {
		t.Fatalf("with the CA file: %v", err)
	}

	// Skipping verification works and says so at WARN.
	var logs bytes.Buffer
	cl, err = New(Config{URL: srv.URL, InsecureSkipVerify: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "TLS VERIFICATION IS OFF") {
		t.Fatalf("skip-verify was not loud: %q", logs.String())
	}

	if _, err := New(Config{URL: srv.URL, CAFile: filepath.Join(t.TempDir(), "none.pem")}); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}

func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cl, err := New(Config{URL: srv.URL, RequestTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = cl.Info(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GET /") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the request took %s despite a 100ms timeout", d)
	}
}

// Names travel escaped, once: a name with characters a path must escape
// reaches the server intact, and several names stay comma-separated.
func TestPathEscaping(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cl, err := New(Config{URL: srv.URL + "/es/"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cl.CreateSnapshot(ctx, "r", "a;b+c@d", CreateRequest{}); err != nil {
		t.Fatal(err)
	}
	_ = cl.DeleteSnapshots(ctx, "r", []string{"x;1", "y"})
	var got []string
	for _, r := range rec.reqs {
		got = append(got, r.URL.EscapedPath())
	}
	want := []string{"/es/_snapshot/r/a%3Bb+c@d", "/es/_snapshot/r/x%3B1,y"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("paths %q, want %q", got, want)
	}
}
