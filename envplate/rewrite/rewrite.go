// Package rewrite renders the files that ep's globs match, all or nothing:
// every file is read and rendered before any is written; then each changed
// file is written to a temporary file in its own directory (same mode and
// owner, fsynced) and only when all of them are ready are they renamed over
// the originals. A failure at any step before the renames leaves every file
// as it was; a failing rename (which needs the file system itself to fail)
// puts the files already renamed back.
//
// With Options.OutDir the originals are only read (a read-only ConfigMap
// mount, say): every matched file is rendered into OutDir under its own
// name, the same all-or-nothing way, and two files with one name are
// refused rather than written over each other.
package rewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"cronbox/envplate/subst"
)

// Options are ep's flags.
type Options struct {
	Backup bool // keep the original as NAME.bak
	DryRun bool // print the rendered files to Stdout, write nothing
	Strict bool // refuse defaults and empty values
	// Encode converts each value to the files' charset (ep -c); nil: as is.
	Encode func(string) (string, error)
	// OutDir, when set, receives the rendered files (OutDir/NAME for each
	// matched NAME, created if missing); the originals are not changed.
	OutDir string
	Stdout io.Writer // for DryRun
	Log    *slog.Logger

	// beforeRename, when set (by tests), runs before each rename and can
	// make it fail, to prove the rollback.
	beforeRename func(path string) error
}

// ConfigError is a failure the user fixes in the templates, the globs or the
// environment (exit status 2), as opposed to an I/O failure (exit status 1).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// maxErrors bounds how many failures one run reports.
const maxErrors = 10

// file is one matched file, read and rendered.
type file struct {
	path  string // as the glob matched it, for messages
	real  string // symlinks resolved: the file that is read
	dst   string // the file that is written: real, or OutDir/NAME
	info  fs.FileInfo
	old   []byte
	new   []byte
	tmp   string // the prepared temporary file
	bak   string // the prepared temporary backup
	moved bool   // renamed over dst
}

// Apply renders every file the globs match with env, and writes them (or,
// with DryRun, prints them). It returns every failure it found, joined; a
// failure in the templates or globs is wrapped in *ConfigError.
func Apply(ctx context.Context, globs []string, env subst.Lookup, opt Options) error {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.OutDir != "" && opt.Backup {
		return &ConfigError{errors.New("a backup (-b) keeps the original of a file changed in place; with an output directory no file is")}
	}
	files, err := match(globs)
	if err != nil {
		return err
	}
	if err := destinations(files, opt.OutDir); err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		errs = append(errs, f.render(env, opt, log)...)
		if len(errs) >= maxErrors {
			errs = append(errs[:maxErrors], &ConfigError{fmt.Errorf("stopped after %d errors", maxErrors)})
			break
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if opt.DryRun {
		for _, f := range files {
			if _, err := opt.Stdout.Write(f.new); err != nil {
				return fmt.Errorf("dry run: write rendered %s to stdout: %w", f.path, err)
			}
		}
		return nil
	}
	if opt.OutDir != "" {
		if err := os.MkdirAll(opt.OutDir, 0o755); err != nil {
			return err
		}
	}
	var changed []*file
	for _, f := range files {
		if opt.OutDir == "" && bytes.Equal(f.old, f.new) {
			log.Info("unchanged, not written", "file", f.path)
			continue
		}
		changed = append(changed, f)
	}
	return commit(ctx, changed, opt, log)
}

// match expands the globs to regular files, each once. A glob that matches
// no file is an error: it is a typo or a missing mount.
func match(globs []string) ([]*file, error) {
	if len(globs) == 0 {
		return nil, &ConfigError{errors.New("no file globs given")}
	}
	var files []*file
	seen := map[string]bool{}
	for _, g := range globs {
		names, err := filepath.Glob(g)
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("glob %q: %w", g, err)}
		}
		n := 0
		for _, name := range names {
			real, err := filepath.EvalSymlinks(name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			info, err := os.Stat(real)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if !info.Mode().IsRegular() {
				continue
			}
			n++
			if !seen[real] {
				seen[real] = true
				files = append(files, &file{path: name, real: real, info: info})
			}
		}
		if n == 0 {
			return nil, &ConfigError{fmt.Errorf("glob %q matches no file", g)}
		}
	}
	return files, nil
}

// destinations sets where each file is written, refusing two files that
// would land on one name in outDir (files from different directories with
// the same name would otherwise overwrite each other, silently).
func destinations(files []*file, outDir string) error {
	byName := map[string]string{}
	var errs []error
	for _, f := range files {
		if outDir == "" {
			f.dst = f.real
			continue
		}
		name := filepath.Base(f.path)
		f.dst = filepath.Join(outDir, name)
		if first, dup := byName[name]; dup {
			errs = append(errs, &ConfigError{fmt.Errorf("%s and %s would both be rendered to %s: give them different names", first, f.path, f.dst)})
			continue
		}
		byName[name] = f.path
	}
	return errors.Join(errs...)
}

func (f *file) render(env subst.Lookup, opt Options, log *slog.Logger) []error {
	b, err := os.ReadFile(f.real)
	if err != nil {
		return []error{err}
	}
	f.old = b
	tpl, err := subst.Parse(string(b))
	if err != nil {
		return []error{&ConfigError{fmt.Errorf("%s:%w", f.path, err)}}
	}
	out, uses, errs := tpl.Render(env, subst.Options{Strict: opt.Strict, Encode: opt.Encode})
	if len(errs) > 0 {
		// Unset variables, refused defaults and unreadable NAME_FILEs alike
		// are configuration the user fixes.
		out := make([]error, len(errs))
		for i, err := range errs {
			out[i] = &ConfigError{fmt.Errorf("%s:%w", f.path, err)}
		}
		return out
	}
	f.new = []byte(out)
	// Names and where each value came from; never the values.
	var from []string
	for _, u := range uses {
		from = append(from, u.Name+"("+u.From+")")
	}
	sort.Strings(from)
	log.Info("rendered", "file", f.path, "references", len(uses), "from", strings.Join(dedupe(from), " "))
	return nil
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// commit prepares every temporary file, then renames them all.
func commit(ctx context.Context, files []*file, opt Options, log *slog.Logger) (err error) {
	defer func() {
		for _, f := range files {
			for _, t := range []string{f.tmp, f.bak} {
				if t != "" {
					os.Remove(t)
				}
			}
		}
	}()
	for _, f := range files {
		if f.tmp, err = writeTemp(f.dst, f.new, f.info, opt.OutDir == ""); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		if opt.Backup {
			if f.bak, err = writeTemp(f.real, f.old, f.info, true); err != nil {
				return fmt.Errorf("%s: backup: %w", f.path, err)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	for i, f := range files {
		err := f.rename(opt)
		if err == nil {
			log.Info("written", "file", f.path, "backup", opt.Backup)
			continue
		}
		err = fmt.Errorf("%s: %w", f.path, err)
		for _, done := range files[:i] {
			if rerr := done.restore(opt); rerr != nil {
				err = errors.Join(err, fmt.Errorf("%s: could not put the original back: %w", done.path, rerr))
			}
		}
		return err
	}
	for _, dir := range dirs(files) {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("fsync directory %s: %w", dir, err)
		}
	}
	return nil
}

func (f *file) rename(opt Options) error {
	if opt.beforeRename != nil {
		if err := opt.beforeRename(f.path); err != nil {
			return err
		}
	}
	if f.bak != "" {
		if err := os.Rename(f.bak, f.real+".bak"); err != nil {
			return err
		}
		f.bak = ""
	}
	if err := os.Rename(f.tmp, f.dst); err != nil {
		return err
	}
	f.tmp, f.moved = "", true
	return nil
}

// restore writes the original content back, the same careful way; a file
// rendered into OutDir is removed instead.
func (f *file) restore(opt Options) error {
	if opt.OutDir != "" {
		return os.Remove(f.dst)
	}
	tmp, err := writeTemp(f.real, f.old, f.info, true)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, f.real); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeTemp writes data to a new file beside path, with info's mode (and
// owner, with keepOwner), flushed to disk, and returns its name.
func writeTemp(path string, data []byte, info fs.FileInfo, keepOwner bool) (name string, err error) {
	t, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".ep-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			t.Close()
			os.Remove(t.Name())
		}
	}()
	if _, err = t.Write(data); err != nil {
		return "", err
	}
	want, _ := info.Sys().(*syscall.Stat_t)
	got, err := t.Stat()
	if err != nil {
		return "", err
	}
	if have, _ := got.Sys().(*syscall.Stat_t); keepOwner && want != nil && have != nil && (want.Uid != have.Uid || want.Gid != have.Gid) {
		if err = t.Chown(int(want.Uid), int(want.Gid)); err != nil {
			return "", fmt.Errorf("keep owner %d:%d: %w", want.Uid, want.Gid, err)
		}
	}
	// After chown, which clears setuid/setgid bits.
	if err = t.Chmod(info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return "", err
	}
	if err = t.Sync(); err != nil {
		return "", err
	}
	if err = t.Close(); err != nil {
		return "", err
	}
	return t.Name(), nil
}

func dirs(files []*file) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		if d := filepath.Dir(f.dst); !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
