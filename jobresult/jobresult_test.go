package jobresult

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func envOf(path string) func(string) string {
	return func(name string) string {
		if name == Env {
			return path
		}
		return ""
	}
}

func TestWriteThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "result.json")
	want := Result{
		Kind: "etcd-snapshot", Location: "s3://b/etcd-backup/20261127T030405Z.db", Size: 1 << 40, SHA256: "ab12",
		Seconds: 1.5, Verified: true, Compressed: "zstd",
		Etcd: &Etcd{Revision: 9007199254740993, MemberID: "8e9e05c52164694d", Version: "3.7.3"},
	}
	if err := Write(envOf(path), want); err != nil {
		t.Fatal(err)
	}
	raw, got, err := Read(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Location != want.Location || got.Size != want.Size || !got.Verified || got.Etcd.Revision != want.Etcd.Revision {
		t.Errorf("read %+v %+v", got, got.Etcd)
	}
	// Numbers above 2^53 stay exact in the raw object too.
	if !bytes.Contains(raw, []byte(`"revision":9007199254740993`)) || !bytes.Contains(raw, []byte(`"size":1099511627776`)) {
		t.Errorf("raw %s", raw)
	}
}

func TestUnsetIsANoOp(t *testing.T) {
	if err := Write(envOf(""), Result{Size: 1}); err != nil {
		t.Fatal(err)
	}
	called := false
	if err := Update(envOf(""), func(*Result) bool { called = true; return true }); err != nil || called {
		t.Fatalf("%v %v", err, called)
	}
}

// A shell job writes what it likes; go-cron keeps unknown fields, masks
// every string, and says what is wrong with a file it cannot use.
func TestRead(t *testing.T) {
	mask := func(s string) string { return strings.ReplaceAll(s, "hunter22", "***") }
	for _, tc := range []struct {
		name, content string
		raw, err      string // raw: exact; err: substring ("" none)
		loc           string
	}{
		{"empty: no result", "", "", "", ""},
		{"blank: no result", " \n", "", "", ""},
		{"script fields kept", `{"location":"/backups/x.tar","size":12,"rows":3}` + "\n", `{"location":"/backups/x.tar","rows":3,"size":12}`, "", "/backups/x.tar"},
		{"masked, keys too", `{"location":"s3://b/hunter22","note":{"hunter22":["a hunter22"]}}`, `{"location":"s3://b/***","note":{"***":["a ***"]}}`, "", "s3://b/***"},
		{"an array", `[1]`, "", "want one JSON object, found an array", ""},
		{"a string", `"ok"`, "", "found a string", ""},
		{"two objects", `{} {}`, "", "found more after it", ""},
		{"not JSON", `size=12`, "", "not JSON", ""},
		{"truncated", `{"size":`, "", "not JSON", ""},
		{"wrong type: raw kept", `{"size":"12 MB"}`, `{"size":"12 MB"}`, "cannot unmarshal", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			raw, r, err := Read(path, mask)
			if string(raw) != tc.raw || r.Location != tc.loc {
				t.Errorf("raw %s location %q; want %s %q", raw, r.Location, tc.raw, tc.loc)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), Env)):
				t.Errorf("error %v, want one naming %s and saying %q", err, Env, tc.err)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	big := `{"message":"` + strings.Repeat("x", MaxSize) + `"}`
	if err := os.WriteFile(path, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Read(path, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%v", err)
	}
	if err := Write(envOf(path), Result{Message: strings.Repeat("x", MaxSize)}); err == nil || !strings.Contains(err.Error(), "more than go-cron reads") {
		t.Errorf("write: %v", err)
	}
}

// verify marks the backup save reported, and only that one.
func TestUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	env := envOf(path)
	if err := os.WriteFile(path, nil, 0o600); err != nil { // as go-cron leaves it
		t.Fatal(err)
	}
	mark := func(loc string) func(*Result) bool {
		return func(r *Result) bool {
			if r.Location != loc {
				return false
			}
			r.Verified = true
			return true
		}
	}
	if err := Update(env, mark("s3://b/k")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("nothing to mark, yet the file holds %s", b)
	}
	if err := Write(env, Result{Location: "s3://b/k", Size: 5}); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{"s3://b/other", "s3://b/k"} {
		if err := Update(env, mark(loc)); err != nil {
			t.Fatal(err)
		}
		_, r, _ := Read(path, nil)
		if r.Verified != (loc == "s3://b/k") || r.Size != 5 {
			t.Errorf("after marking %s: %+v", loc, r)
		}
	}
}

func TestReportWarnsOnly(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	Report(envOf(filepath.Join(t.TempDir(), "no", "such", "dir", "r.json")), log, Result{Size: 1})
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), Env) {
		t.Errorf("logs: %s", logs.String())
	}
	Report(envOf(""), slog.New(slog.NewTextHandler(io.Discard, nil)), Result{})
}

func TestSetIndices(t *testing.T) {
	names := make([]string, MaxIndices+5)
	for i := range names {
		names[i] = "i"
	}
	var s Search
	s.SetIndices(names)
	if s.IndexCount != MaxIndices+5 || len(s.Indices) != MaxIndices {
		t.Errorf("%d %d", s.IndexCount, len(s.Indices))
	}
}

// What a job leaves at the path instead of a file is refused, at once: a
// FIFO must not hang go-cron, a symlink must not show what it points to.
func TestNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.json")
	if err := os.WriteFile(secret, []byte(`{"message":"private"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, fifo, dir} {
		raw, _, err := Read(p, nil)
		if err == nil || raw != nil {
			t.Errorf("%s: %s, %v", p, raw, err)
		}
	}
}
