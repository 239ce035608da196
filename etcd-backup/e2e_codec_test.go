package main

// End-to-end tests of compressed and encrypted backups (issue 15): the
// restore drill for each way of storing, the restore with stock tools alone
// (Debian's age, zstd and etcdctl 3.4), and the refusals: a missing or wrong
// identity, a truncated or damaged object, bad flags.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// ageKey writes a new age identity file (mode 600) and returns its path and
// its recipient.
func ageKey(t *testing.T) (string, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(path, []byte("# test key\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, id.Recipient().String()
}

// The restore drill for each way of storing: 10k keys, save to S3, verify,
// restore into a fresh data dir, start etcd on it, every key equal.
func TestDrillCodecs(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "drill")
	src := etcdtest.Embed(t, etcdtest.Options{})
	want := fill(t, src.Client(t), "/drill/", 10000, 11)
	key, recipient := ageKey(t)
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("a long passphrase, for people without keys\n"), 0o600)
	base := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "AWS_S3_BUCKET="+bucket)
	for _, tc := range []struct {
		name, suffix string
		save, read   []string // extra environment for save, and for verify/restore
		compression  string
		encrypted    bool
	}{
		{"zstd", ".db.zst", []string{"ETCD_BACKUP_COMPRESS=zstd"}, nil, "zstd", false},
		{"zstd level 19", ".db.zst", []string{"ETCD_BACKUP_COMPRESS=zstd", "ETCD_BACKUP_COMPRESS_LEVEL=19"}, nil, "zstd", false},
		{"gzip", ".db.gz", []string{"ETCD_BACKUP_COMPRESS=gzip"}, nil, "gzip", false},
		{"age", ".db.age", []string{"ETCD_BACKUP_ENCRYPT_TO=" + recipient}, []string{"ETCD_BACKUP_IDENTITY_FILE=" + key}, "none", true},
		{"zstd+age", ".db.zst.age", []string{"ETCD_BACKUP_COMPRESS=zstd", "ETCD_BACKUP_ENCRYPT_TO=" + recipient}, []string{"ETCD_BACKUP_IDENTITY_FILE=" + key}, "zstd", true},
		{"gzip+passphrase", ".db.gz.age", []string{"ETCD_BACKUP_COMPRESS=gzip", "ETCD_BACKUP_PASSPHRASE_FILE=" + pass}, []string{"ETCD_BACKUP_PASSPHRASE_FILE=" + pass}, "gzip", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append(append([]string{}, base...), "ETCD_BACKUP_PREFIX="+strings.ReplaceAll(tc.name, " ", "-")+"/")
			out, errOut, code := run(t, append(env, tc.save...), nil, "save")
			if code != 0 {
				t.Fatalf("save exit %d", code)
			}
			saved := parseSave(t, out)
			if !strings.HasSuffix(saved.Destination, tc.suffix) {
				t.Fatalf("saved as %s, want a name ending in %s", saved.Destination, tc.suffix)
			}
			wantWords := map[bool]string{false: "not encrypted", true: "encrypted (age"}[tc.encrypted]
			if !strings.Contains(errOut, wantWords) || tc.compression != "none" && !strings.Contains(errOut, "compressed ("+tc.compression+")") {
				t.Fatalf("save's output does not say how it stored the backup: %s", errOut)
			}
			if tc.compression != "none" && saved.StoredSize*2 > saved.Size {
				t.Errorf("compressed to %d of %d bytes", saved.StoredSize, saved.Size)
			}
			// No flag says how it was stored: the metadata and the bytes do.
			out, _, code = run(t, append(env, tc.read...), nil, "verify", "-w", "json", saved.Destination)
			if code != 0 {
				t.Fatalf("verify exit %d", code)
			}
			v := parseVerify(t, out)
			if !v.Checked || v.Keys != len(want) || v.Compress != tc.compression || v.Encrypt != tc.encrypted || v.SHA256 != saved.SHA256 || (v.Recorded != saved.SHA256 && v.Checksum == "") {
				t.Fatalf("verify %+v; saved %+v", v, saved)
			}
			r, _ := restoreAndStart(t, append(env, tc.read...), saved.Destination)
			equalKeys(t, r.Client(t), "/drill/", want)
		})
	}
}

// Without the identity, verify checks the stored bytes' hash and says that
// the contents were not checked (exit 0); restore refuses (exit 1) and
// writes nothing; a wrong identity is refused the same way.
func TestEncryptedWithoutOrWrongIdentity(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	fill(t, src.Client(t), "/e/", 300, 12)
	_, recipient := ageKey(t)
	other, _ := ageKey(t)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint)
	dest := "s3://" + bucket + "/enc/"
	out, _, code := run(t, env, nil, "save", "--compress", "zstd", "--encrypt-to", recipient, dest)
	if code != 0 {
		t.Fatal("save failed")
	}
	obj := parseSave(t, out).Destination

	out, _, code = run(t, env, nil, "verify", obj)
	if code != 0 || !strings.Contains(out, "contents NOT checked") || !strings.Contains(out, "encrypted (age: X25519)") {
		t.Fatalf("verify without identity: exit %d: %s", code, out)
	}
	out, _, code = run(t, env, nil, "verify", "-w", "json", obj)
	if v := parseVerify(t, out); code != 0 || v.Checked || v.SHA256 == "" || (v.SHA256 != v.Recorded && v.Checksum == "") || v.Compress != "zstd" {
		t.Fatalf("verify -w json without identity: exit %d: %+v", code, v)
	}
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"no identity", nil, "no identity or passphrase was given"},
		{"wrong identity", []string{"ETCD_BACKUP_IDENTITY_FILE=" + other}, "no given identity or passphrase opens it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "new")
			dir := filepath.Join(parent, "data")
			_, errOut, code := run(t, append(append([]string{}, env...), tc.env...), nil, "restore", obj, "--data-dir", dir)
			if code != 1 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Fatalf("restore: exit %d, %q; want 1 and one line with %q", code, errOut, tc.want)
			}
			if _, err := os.Stat(parent); !os.IsNotExist(err) {
				t.Fatalf("a refused restore left %s behind", parent)
			}
			if tc.env != nil {
				if _, errOut, code := run(t, append(append([]string{}, env...), tc.env...), nil, "verify", obj); code != 1 || !strings.Contains(errOut, tc.want) {
					t.Fatalf("verify with a wrong identity: exit %d %q", code, errOut)
				}
			}
		})
	}
}

// A truncated or damaged encrypted object, in S3 or as a file: one line,
// exit 1, nothing where the restore goes.
func TestEncryptedDamage(t *testing.T) {
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	src := etcdtest.Embed(t, etcdtest.Options{})
	fillBig(t, src.Client(t), "/d/", 12, 256<<10) // 3 MiB: several age chunks
	key, recipient := ageKey(t)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+src.Endpoint, "ETCD_BACKUP_IDENTITY_FILE="+key)
	args := []string{"--compress", "zstd", "--encrypt-to", recipient}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db.zst.age")
	if _, _, code := run(t, env, nil, append([]string{"save", good}, args...)...); code != 0 {
		t.Fatal("save to file failed")
	}
	b, _ := os.ReadFile(good)
	flip := func(b []byte, at int) []byte { c := append([]byte{}, b...); c[at] ^= 0x20; return c }
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated", b[:len(b)*2/3]},
		{"truncated by one byte", b[:len(b)-1]},
		{"byte flipped mid-stream", flip(b, len(b)/2)},
		{"byte flipped in the header", flip(b, 40)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// As a file (no .sha256 beside it: age's own checks must catch it)
			// and as an S3 object changed behind the server's back.
			path := filepath.Join(t.TempDir(), "bad.db.zst.age")
			os.WriteFile(path, tc.data, 0o600)
			// The S3 object is saved, then overwritten in place behind the
			// server's back (its metadata, recorded checksum included, stays).
			objKey := "bad-" + strings.ReplaceAll(tc.name, " ", "-") + ".db.zst.age"
			if _, _, code := run(t, env, nil, append([]string{"save", "s3://" + bucket + "/" + objKey}, args...)...); code != 0 {
				t.Fatal("save to S3 failed")
			}
			if err := os.WriteFile(s3.ObjectPath(bucket, objKey), tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, srcArg := range []string{path, "s3://" + bucket + "/" + objKey} {
				target := filepath.Join(t.TempDir(), "restored")
				_, errOut, code := run(t, env, nil, "restore", srcArg, "--data-dir", target)
				if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
					t.Fatalf("restore %s: exit %d, %q; want 1 and one line", srcArg, code, errOut)
				}
				if _, err := os.Stat(target); !os.IsNotExist(err) {
					t.Fatalf("a failed restore left %s", target)
				}
				if left, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".etcd-backup-*")); len(left) > 0 {
					t.Fatalf("a failed restore left %v", left)
				}
				if _, _, code := run(t, env, nil, "verify", srcArg); code != 1 {
					t.Fatalf("verify %s: exit %d, want 1", srcArg, code)
				}
			}
		})
	}
}

// The promise of no lock-in: a backup saved compressed and encrypted from a
// Debian etcd 3.4 restores with stock tools alone, exactly as the README
// says: age -d -i key | zstd -d > snap.db && etcdctl snapshot restore
// snap.db; Debian's etcd 3.4 then serves every key.
func TestStockToolRestore(t *testing.T) {
	for _, p := range []string{"age", "zstd", "etcdctl", "etcd", "bash"} {
		testkit.Need(t, p)
	}
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "bkt")
	c := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 1})
	want := fill(t, c.Client(t), "/stock/", 3000, 13)
	key, recipient := ageKey(t)
	env := append(s3.Env(), "ETCDCTL_ENDPOINTS="+c.Endpoints()[0])
	out, _, code := run(t, env, nil, "save", "--compress", "zstd", "--encrypt-to", recipient, "s3://"+bucket+"/stock/")
	if code != 0 {
		t.Fatal("save failed")
	}
	saved := parseSave(t, out)
	objKey := strings.TrimPrefix(saved.Destination, "s3://"+bucket+"/")
	// The object's bytes, as any S3 client downloads them (gof3r get --raw:
	// checked against the stored checksum, not decoded).
	work := t.TempDir()
	obj := filepath.Join(work, filepath.Base(objKey))
	gof3r := testkit.Build(t, "cronbox/gof3r")
	get := exec.Command(gof3r, "get", "--raw", "-b", bucket, "-k", objKey, "-p", obj)
	get.Env = env
	if b, err := get.CombinedOutput(); err != nil {
		t.Fatalf("gof3r get: %v %s", err, b)
	}
	name, peer := "stock", fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	data := filepath.Join(work, "data")
	script := `age -d -i "$KEY" "$OBJ" | zstd -d > snap.db && etcdctl snapshot restore snap.db --data-dir "$DATA" --name "$NAME" --initial-cluster "$NAME=$PEER" --initial-advertise-peer-urls "$PEER"`
	cmd := exec.Command("bash", "-o", "pipefail", "-c", script)
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ETCDCTL_API=3", "KEY=" + key, "OBJ=" + obj, "DATA=" + data, "NAME=" + name, "PEER=" + peer}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stock restore: %v\n%s", err, b)
	}
	endpoint := serveEtcd34(t, data, name, peer)
	equalKeys(t, etcdtest.NewClient(t, endpoint), "/stock/", want)
}

// serveEtcd34 starts Debian's etcd on a restored data dir and returns its
// client URL once it answers.
func serveEtcd34(t *testing.T, dir, name, peer string) string {
	t.Helper()
	client := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	cmd := exec.Command(testkit.Need(t, "etcd"), "--data-dir", dir, "--name", name,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", name+"="+peer,
		"--log-level", "warn", "--logger", "zap")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	logs := &testkit.Buffer{Limit: 1 << 20}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	cli := etcdtest.NewClient(t, client)
	testkit.WaitFor(t, 30*time.Second, "etcd 3.4 on the restored data dir", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := cli.Get(ctx, "health")
		if err != nil {
			return fmt.Errorf("%v (logs: %s)", err, logs.String())
		}
		return nil
	})
	return client
}

// Bad codec input is a usage error: exit 2, one line naming the input,
// nothing written. A key file readable by others is only a warning.
func TestCodecUsage(t *testing.T) {
	src := etcdtest.Embed(t, etcdtest.Options{})
	fill(t, src.Client(t), "/u/", 20, 14)
	key, recipient := ageKey(t)
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose-key.txt")
	b, _ := os.ReadFile(key)
	os.WriteFile(loose, b, 0o644)
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("pw\n"), 0o600)
	snap := filepath.Join(dir, "plain.db")
	env := []string{"ETCDCTL_ENDPOINTS=" + src.Endpoint}
	if _, _, code := run(t, env, nil, "save", snap); code != 0 {
		t.Fatal("save failed")
	}
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"save", "--compress", "lz4", "-"}, nil, "lz4"},
		{[]string{"save", "-"}, []string{"ETCD_BACKUP_COMPRESS=brotli"}, "ETCD_BACKUP_COMPRESS"},
		{[]string{"save", "--compress", "zstd", "--compress-level", "30", "-"}, nil, "compress-level"},
		{[]string{"save", "--compress-level", "3", "-"}, nil, "compress-level"},
		{[]string{"save", "--encrypt-to", "age1notarecipient", "-"}, nil, "age1notarecipient"},
		{[]string{"save", "-"}, []string{"ETCD_BACKUP_ENCRYPT_TO=ssh-ed25519 AAAAC3Nza"}, "ETCD_BACKUP_ENCRYPT_TO"},
		{[]string{"save", "--recipients-file", filepath.Join(dir, "missing"), "-"}, nil, "recipients-file"},
		{[]string{"save", "--encrypt-to", recipient, "--passphrase-file", pass, "-"}, nil, "passphrase"},
		{[]string{"save", "--passphrase-file", filepath.Join(dir, "missing"), "-"}, nil, "passphrase-file"},
		{[]string{"save", "-"}, []string{"ETCD_BACKUP_PASSPHRASE=x", "ETCD_BACKUP_PASSPHRASE_FILE=" + pass}, "ETCD_BACKUP_PASSPHRASE"},
		{[]string{"verify", "--identity", filepath.Join(dir, "missing"), snap}, nil, "--identity"},
		{[]string{"verify", snap}, []string{"ETCD_BACKUP_IDENTITY_FILE=" + filepath.Join(dir, "missing")}, "ETCD_BACKUP_IDENTITY_FILE"},
		{[]string{"verify", snap}, []string{"ETCD_BACKUP_IDENTITY=AGE-SECRET-KEY-1BROKEN"}, "ETCD_BACKUP_IDENTITY"},
		{[]string{"restore", snap, "--data-dir", filepath.Join(dir, "r"), "--identity", pass}, nil, "--identity"},
		{[]string{"save", "-", "--prefix", "a//b"}, []string{"AWS_S3_BUCKET=b"}, "prefix"},
	} {
		_, errOut, code := run(t, append(append([]string{}, env...), tc.env...), nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v %v: exit %d, stderr %q; want 2 and one line with %q", tc.args, tc.env, code, errOut, tc.want)
		}
		if strings.Contains(errOut, "AGE-SECRET-KEY-1") {
			t.Errorf("%v: a private key in stderr", tc.args)
		}
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "loose-key.txt pass plain.db plain.db.sha256" {
		t.Errorf("refused runs wrote into %s: %v", dir, names)
	}
	// A world-readable identity file works, with a warning that names it.
	_, errOut, code := run(t, env, nil, "verify", "--identity", loose, snap)
	if code != 0 || !strings.Contains(errOut, "world-readable") || !strings.Contains(errOut, "--identity") {
		t.Fatalf("a world-readable identity: exit %d, %q; want 0 with a warning", code, errOut)
	}
}
