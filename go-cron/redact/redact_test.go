package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsSecretName(t *testing.T) {
	pats, err := ParsePatterns(DefaultPatterns)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"AWS_SECRET_ACCESS_KEY": true,
		"DB_PASSWORD":           true,
		"github_token":          true,
		"API_KEY":               true,
		"ETCD_KEY":              false, // a key prefix, exempted by !ETCD_KEY
		"AWS_ACCESS_KEY_ID":     false,
		"KEYBOARD":              false,
		"HOME":                  false,
	} {
		if got := IsSecretName(name, pats); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	if _, err := ParsePatterns("[bad"); err == nil {
		t.Error("bad glob accepted")
	}
}

func TestRedactor(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("from-a-file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pats, _ := ParsePatterns(DefaultPatterns)
	r := New([]string{
		"AWS_SECRET_ACCESS_KEY=s3cr3t-value",
		"DB_PASSWORD=s3cr3t-value-longer", // contains the other: goes whole
		"SHORT_TOKEN=ab",
		"DB_PASSWORD_FILE=" + file,
		"HOME=/root",
	}, pats)
	got := r.String("a s3cr3t-value b s3cr3t-value-longer c from-a-file-secret d /root ab")
	want := "a *** b *** c *** d /root ab"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if s := r.Skipped(); len(s) != 1 || s[0] != "SHORT_TOKEN" {
		t.Errorf("skipped %v", s)
	}
	var nilR *Redactor
	if nilR.String("x") != "x" {
		t.Error("nil redactor changed text")
	}
}

func TestHandler(t *testing.T) {
	pats, _ := ParsePatterns(DefaultPatterns)
	r := New([]string{"MY_TOKEN=canary-1234"}, pats)
	for _, json := range []bool{false, true} {
		var buf bytes.Buffer
		var h slog.Handler = slog.NewTextHandler(&buf, nil)
		if json {
			h = slog.NewJSONHandler(&buf, nil)
		}
		log := slog.New(Handler(h, r)).With("pre", "x canary-1234")
		log.Info("msg canary-1234", "s", "canary-1234", "err", errors.New("failed with canary-1234"),
			slog.Group("g", "args", []string{"sh", "-c", "echo canary-1234"}), "n", 3)
		out := buf.String()
		if strings.Contains(out, "canary") || strings.Count(out, Mask) != 5 {
			t.Errorf("json=%v: %s", json, out)
		}
	}
}

func TestWith(t *testing.T) {
	base := New([]string{"DB_PASSWORD=hunter22"}, []string{"*PASSWORD*"})
	r := base.With("/hook/T0KEN-abc", "abc", "hunter22")
	got := r.String(`Post "http://h/hook/T0KEN-abc": refused; pw hunter22; abc stays`)
	if want := `Post "http://h***": refused; pw ***; abc stays`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if base.String("/hook/T0KEN-abc") != "/hook/T0KEN-abc" {
		t.Error("With changed the Redactor it was called on")
	}
	if r.MaxLen() != len("/hook/T0KEN-abc") || r.Count() != 2 {
		t.Errorf("MaxLen %d, Count %d", r.MaxLen(), r.Count())
	}
	var nilR *Redactor
	if nilR.With("secret-value").String("a secret-value") != "a ***" {
		t.Error("With on nil")
	}
}
