package health

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{
		":18080":          "127.0.0.1:18080",
		"0.0.0.0:9000":    "127.0.0.1:9000",
		"[::]:9000":       "127.0.0.1:9000",
		"127.0.0.2:80":    "127.0.0.2:80",
		"[::1]:8080":      "[::1]:8080",
		"localhost:18080": "localhost:18080",
	} {
		if got, err := Dialable(in); err != nil || got != want {
			t.Errorf("Dialable(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Dialable("18080"); err == nil {
		t.Error("Dialable(18080) accepted an address without a port separator")
	}
}

func TestRecordAndTarget(t *testing.T) {
	file := filepath.Join(t.TempDir(), "addr")
	if a, from := Target(file, ":18080"); a != ":18080" || from != "configuration" {
		t.Errorf("no file: Target = %q from %q", a, from)
	}
	if err := Record(file, "[::]:9999"); err != nil {
		t.Fatal(err)
	}
	if a, from := Target(file, ":18080"); a != "[::]:9999" || from != file {
		t.Errorf("Target = %q from %q", a, from)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v (%v): the healthcheck may run as another user", st.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := Record(filepath.Join(t.TempDir(), "no", "dir"), "x"); err == nil {
		t.Error("Record into a missing directory succeeded")
	}
}

func TestProbe(t *testing.T) {
	var code = http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	if err := Probe(ctx, srv.Client(), addr); err != nil {
		t.Errorf("200: %v", err)
	}
	code = http.StatusInternalServerError
	if err := Probe(ctx, srv.Client(), addr); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("500: %v", err)
	}
	if err := Probe(ctx, srv.Client(), Off); err != nil {
		t.Errorf("off: %v", err)
	}
	srv.Close()
	if err := Probe(ctx, &http.Client{}, addr); err == nil {
		t.Error("a closed port passed")
	}
}
