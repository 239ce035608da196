package e2e

import (
	"crypto/x509"
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// maxRootfsBytes is the size budget: the original image was about 25 MB,
// the target 20 MB. The README's size table says where the bytes go.
const maxRootfsBytes = 20_000_000

// The rootfs holds busybox, the tools, the scripts, a CA bundle, passwd and
// group, and /tmp: nothing else, every binary static, every link relative.
func TestRootfsContents(t *testing.T) {
	dir := assembled(t)

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var top []string
	for _, e := range entries {
		top = append(top, e.Name())
	}
	sort.Strings(top)
	if got, want := strings.Join(top, " "), "bin etc jobs linuxrc sbin tmp usr"; got != want {
		t.Errorf("top level: %s, want %s", got, want)
	}

	var elfs int
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if filepath.IsAbs(target) {
				t.Errorf("/%s -> %s: an absolute link (points outside the rootfs from the host)", rel, target)
			}
			resolved := filepath.Join(filepath.Dir(path), target)
			if !strings.HasPrefix(resolved, dir+"/") {
				t.Errorf("/%s -> %s: leaves the rootfs", rel, target)
			} else if _, err := os.Stat(resolved); err != nil {
				t.Errorf("/%s -> %s: dangling", rel, target)
			}
		case d.Type().IsRegular():
			f, err := elf.Open(path)
			if err != nil {
				return nil // not ELF: a script or a data file
			}
			defer f.Close()
			elfs++
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("/%s is dynamically linked; the image has no libc", rel)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if elfs != 2 {
		t.Errorf("%d ELF binaries, want 2 (busybox and the multicall cronbox)", elfs)
	}

	for _, p := range []string{"bin/sh", "usr/bin/wget", "usr/local/bin/go-cron", "usr/local/bin/gof3r",
		"usr/local/bin/etcd-backup", "usr/local/bin/es-snapshot", "usr/local/bin/ep", "usr/local/bin/entrypoint",
		"jobs/etcd-backup", "jobs/es-backup", "jobs/etcdbackupjob.sh", "jobs/elasticsearchbackupjob.sh"} {
		st, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("/%s: %v", p, err)
		} else if st.Mode()&0o111 == 0 {
			t.Errorf("/%s is not executable", p)
		}
	}

	st, err := os.Stat(filepath.Join(dir, "tmp"))
	if err != nil || st.Mode()&(fs.ModeSticky|0o777) != fs.ModeSticky|0o777 {
		t.Errorf("/tmp: want mode 1777, got %v (%v)", st.Mode(), err)
	}
	passwd, err := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	if err != nil || !strings.Contains(string(passwd), "\ncronbox:x:10001:10001:") {
		t.Errorf("/etc/passwd has no cronbox user 10001: %q (%v)", passwd, err)
	}
	group, err := os.ReadFile(filepath.Join(dir, "etc/group"))
	if err != nil || !strings.Contains(string(group), "\ncronbox:x:10001:") {
		t.Errorf("/etc/group has no cronbox group 10001: %q (%v)", group, err)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil || !x509.NewCertPool().AppendCertsFromPEM(pem) {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt: no certificates (%v)", err)
	}

	out, err := exec.Command("du", "-sb", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	size, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	t.Logf("du -sb rootfs: %d bytes (budget %d)", size, maxRootfsBytes)
	if size > maxRootfsBytes {
		t.Errorf("the rootfs is %d bytes, over the %d budget (bench/image.sh shows where they go)", size, maxRootfsBytes)
	}
}
