package rewrite

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"cronbox/envplate/subst"
)

var env = subst.Map{From: "env", Vars: map[string]string{"HOST": "es:9200", "BUCKET": "backups", "SECRET": "s3cr3t-value"}}

// tree writes files into a fresh directory and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// snapshot is every file under dir with its content and mode.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if info.Mode()&os.ModeSymlink != 0 {
			dst, _ := os.Readlink(p)
			out[rel] = "-> " + dst
			return nil
		}
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = info.Mode().String() + " " + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("files %v, want %v", keys(got), keys(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %q, want %q (byte-identical)", k, got[k], v)
		}
	}
}

func keys(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func TestRendersInPlace(t *testing.T) {
	dir := tree(t, map[string]string{
		"a.conf": "host=${HOST}\nbucket=${BUCKET:-x}\n",
		"b.sh":   "#!/bin/sh\necho \"$1\" \\${HOST}\n",
		"plain":  "nothing to do $HOME\n",
	})
	if err := os.Chmod(filepath.Join(dir, "b.sh"), 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	plainBefore, _ := os.Stat(filepath.Join(dir, "plain"))
	if err := Apply(context.Background(), []string{filepath.Join(dir, "*")}, env, Options{}); err != nil {
		t.Fatal(err)
	}
	sameTree(t, snapshot(t, dir), map[string]string{
		"a.conf": "-rw-r----- host=es:9200\nbucket=backups\n",
		"b.sh":   "urwxr-xr-x #!/bin/sh\necho \"$1\" ${HOST}\n",
		"plain":  "-rw-r----- nothing to do $HOME\n",
	})
	plainAfter, _ := os.Stat(filepath.Join(dir, "plain"))
	if !os.SameFile(plainBefore, plainAfter) {
		t.Fatal("a file without references was rewritten; it must be left alone")
	}
}

// The atomicity case: three files, the third fails, all three stay
// byte-identical, and no temporary file is left behind.
func TestFailureInThirdFileLeavesAllUntouched(t *testing.T) {
	good := map[string]string{
		"1.conf": "host=${HOST}\n",
		"2.conf": "bucket=${BUCKET}\n",
	}
	cases := []struct {
		name    string
		third   func(t *testing.T, dir string)
		opt     Options
		wantErr string
		config  bool
	}{
		{"missing variable", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "3.conf"), []byte("ok=${HOST}\n\n  x=${NOT_SET}\n"), 0o640)
		}, Options{}, "3.conf:3:5: NOT_SET is not set", true},
		{"syntax error", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "3.conf"), []byte("x=${HOST"), 0o640)
		}, Options{}, "3.conf:1:3: unterminated reference", true},
		{"strict refuses default", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "3.conf"), []byte("x=${NOPE:-d}"), 0o640)
		}, Options{Strict: true}, "3.conf:1:3: NOPE is unset (strict mode refuses the default)", true},
		{"unreadable file (dangling symlink)", func(t *testing.T, dir string) {
			os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "3.conf"))
		}, Options{}, "3.conf: lstat", false},
		{"rename fails, first two are put back", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "3.conf"), []byte("x=${HOST}"), 0o640)
		}, Options{Backup: true, beforeRename: func(path string) error {
			if strings.HasSuffix(path, "3.conf") {
				return errors.New("injected rename failure")
			}
			return nil
		}}, "3.conf: injected rename failure", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := tree(t, good)
			c.third(t, dir)
			before := snapshot(t, dir)
			err := Apply(context.Background(), []string{filepath.Join(dir, "1.conf"), filepath.Join(dir, "2.conf"), filepath.Join(dir, "3.conf")}, env, c.opt)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
			var ce *ConfigError
			if errors.As(err, &ce) != c.config {
				t.Fatalf("error %v: ConfigError %v, want %v", err, !c.config, c.config)
			}
			after := snapshot(t, dir)
			// A backup of a file that was put back may stay (it is a copy of
			// the original); nothing else may differ.
			for k := range after {
				if strings.HasSuffix(k, ".bak") {
					if after[k] != before[strings.TrimSuffix(k, ".bak")] {
						t.Fatalf("%s is not the original: %q", k, after[k])
					}
					delete(after, k)
				}
			}
			sameTree(t, after, before)
		})
	}
}

func TestErrorsNameFileLineColumnNotValues(t *testing.T) {
	dir := tree(t, map[string]string{"s.conf": "key=${SECRET}\nother=${OTHER:?ask the ops team}\n"})
	err := Apply(context.Background(), []string{filepath.Join(dir, "*")}, env, Options{})
	want := filepath.Join(dir, "s.conf") + ":2:7: OTHER is unset: ask the ops team"
	if err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	var log bytes.Buffer
	Apply(context.Background(), []string{filepath.Join(dir, "*")}, subst.Map{From: "env", Vars: map[string]string{"SECRET": "s3cr3t-value", "OTHER": "x"}}, Options{DryRun: true, Stdout: &bytes.Buffer{}, Log: newLog(&log)})
	if strings.Contains(log.String(), "s3cr3t") || !strings.Contains(log.String(), "SECRET(env)") {
		t.Fatalf("verbose log %q: want the name and source, never the value", log.String())
	}
}

func TestBackupDryRunAndSymlinks(t *testing.T) {
	dir := tree(t, map[string]string{"real/a.conf": "h=${HOST}\n", "b.conf": "b=${BUCKET}\n"})
	link := filepath.Join(dir, "link.conf")
	if err := os.Symlink(filepath.Join(dir, "real/a.conf"), link); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)

	var out bytes.Buffer
	if err := Apply(context.Background(), []string{filepath.Join(dir, "*.conf")}, env, Options{DryRun: true, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "b=backups\nh=es:9200\n" {
		t.Fatalf("dry run printed %q", out.String())
	}
	sameTree(t, snapshot(t, dir), before)

	if err := Apply(context.Background(), []string{filepath.Join(dir, "*.conf"), filepath.Join(dir, "real", "*")}, env, Options{Backup: true}); err != nil {
		t.Fatal(err)
	}
	sameTree(t, snapshot(t, dir), map[string]string{
		"b.conf":          "-rw-r----- b=backups\n",
		"b.conf.bak":      "-rw-r----- b=${BUCKET}\n",
		"link.conf":       "-> " + filepath.Join(dir, "real/a.conf"),
		"real/a.conf":     "-rw-r----- h=es:9200\n",
		"real/a.conf.bak": "-rw-r----- h=${HOST}\n",
	})
}

func TestKeepsOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test checks that ep keeps a file's owner, which needs root to set up (CI runs as root)")
	}
	dir := tree(t, map[string]string{"o.conf": "h=${HOST}\n"})
	p := filepath.Join(dir, "o.conf")
	if err := os.Chown(p, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	if err := Apply(context.Background(), []string{p}, env, Options{}); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if s := st.Sys().(*syscall.Stat_t); s.Uid != 4242 || s.Gid != 4343 {
		t.Fatalf("owner %d:%d, want 4242:4343", s.Uid, s.Gid)
	}
}

func TestGlobs(t *testing.T) {
	dir := tree(t, map[string]string{"a.conf": "h=${HOST}\n", "sub/x": ""})
	for _, c := range []struct {
		globs []string
		want  string
	}{
		{nil, "no file globs given"},
		{[]string{filepath.Join(dir, "*.conf"), filepath.Join(dir, "*.yaml")}, `*.yaml" matches no file`},
		{[]string{filepath.Join(dir, "su*")}, `su*" matches no file`}, // only a directory
		{[]string{filepath.Join(dir, "[")}, `syntax error in pattern`},
	} {
		err := Apply(context.Background(), c.globs, env, Options{})
		var ce *ConfigError
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &ce) {
			t.Errorf("globs %v: error %v, want a ConfigError containing %q", c.globs, err, c.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.conf")); string(b) != "h=${HOST}\n" {
		t.Fatalf("a.conf changed to %q although a glob failed", b)
	}
}

func newLog(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// With OutDir the originals are only read: every matched file (with or
// without references) is rendered into OutDir under its own name, with its
// mode; each glob is expanded once, so a file whose name holds glob
// characters is itself, not a pattern.
func TestOutDir(t *testing.T) {
	src := tree(t, map[string]string{
		"a/app.conf": "h=${HOST}\n", "a/plain.txt": "no refs\n", "a/x[1].conf": "b=${BUCKET}\n", "a/x1.conf": "one\n",
	})
	before := snapshot(t, src)
	out := filepath.Join(t.TempDir(), "render")
	if err := Apply(context.Background(), []string{filepath.Join(src, "a/*")}, env, Options{OutDir: out}); err != nil {
		t.Fatal(err)
	}
	sameTree(t, snapshot(t, src), before)
	sameTree(t, snapshot(t, out), map[string]string{
		"app.conf": "-rw-r----- h=es:9200\n", "plain.txt": "-rw-r----- no refs\n", "x[1].conf": "-rw-r----- b=backups\n", "x1.conf": "-rw-r----- one\n",
	})
}

// Two files with one name in different directories would land on one file
// in OutDir: refused, naming both, and nothing is written.
func TestOutDirRefusesTwoFilesWithOneName(t *testing.T) {
	src := tree(t, map[string]string{"a/app.conf": "h=${HOST}\n", "b/app.conf": "b=${BUCKET}\n", "b/other.conf": "o\n"})
	out := filepath.Join(t.TempDir(), "render")
	globs := []string{filepath.Join(src, "a/*.conf"), filepath.Join(src, "b/*.conf"), filepath.Join(src, "a/app.conf")}
	err := Apply(context.Background(), globs, env, Options{OutDir: out})
	var ce *ConfigError
	want := filepath.Join(src, "a/app.conf") + " and " + filepath.Join(src, "b/app.conf") + " would both be rendered to " + filepath.Join(out, "app.conf")
	if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want a ConfigError containing %q", err, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("the output directory was created or written: %v", err)
	}
	// The same file matched twice is rendered once, not refused.
	if err := Apply(context.Background(), globs[:1:1], env, Options{OutDir: out}); err != nil {
		t.Fatal(err)
	}
	if err := Apply(context.Background(), []string{filepath.Join(src, "a/app.conf"), filepath.Join(src, "a/*.conf")}, env, Options{OutDir: out}); err != nil {
		t.Fatalf("one file matched by two globs: %v", err)
	}
	if err := Apply(context.Background(), globs[:1], env, Options{OutDir: out, Backup: true}); err == nil || !errors.As(err, &ce) {
		t.Fatalf("-b with an output directory: %v, want a ConfigError", err)
	}
}
