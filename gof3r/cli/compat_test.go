package cli_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cronbox/testkit"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// awsCLI is the real AWS CLI (PyPI awscli, in the venv .ci/deps makes).
func awsCLI(t *testing.T) string {
	t.Helper()
	venv := os.Getenv("CRONBOX_AWSCLI_VENV")
	if venv == "" {
		home, _ := os.UserHomeDir()
		venv = filepath.Join(home, ".cache", "cronbox", "awscli-venv")
	}
	bin := filepath.Join(venv, "bin", "aws")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the AWS CLI is not installed in %s (%v): run `make deps` first", venv, err)
	}
	return bin
}

func aws(t *testing.T, srv *testkit.S3Server, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(awsCLI(t), append([]string{"--endpoint-url", srv.Endpoint}, args...)...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null"}
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("aws %v: %v: %s", args, err, stderr)
	}
	return out
}

func writeRandom(t *testing.T, path string, size int64, seed byte) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	in := newStream(size, seed)
	if _, err := f.ReadFrom(in); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return in.sum()
}

// Objects the AWS CLI uploaded (its own checksums: CRC32, whole or
// composite over 8 MiB parts; SHA-256 when asked) read back verified; a
// byte flipped on the server's disk fails the get with exit 1.
func TestReadsAWSCLIUploads(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "awscli")
	env := srv.Env()
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small"), filepath.Join(dir, "big")
	sums := map[string]string{small: writeRandom(t, small, 1000, 1), big: writeRandom(t, big, 20<<20+7, 2)}
	for _, tc := range []struct {
		key, file string
		upload    []string
		checksum  string // what head-object reports
	}{
		{"cp-small", small, []string{"s3", "cp", "--only-show-errors", small, "s3://awscli/cp-small"}, "CRC32 FULL_OBJECT"},
		{"cp-big", big, []string{"s3", "cp", "--only-show-errors", big, "s3://awscli/cp-big"}, "CRC32 COMPOSITE"},
		{"cp-big-sha256", big, []string{"s3", "cp", "--only-show-errors", "--checksum-algorithm", "SHA256", big, "s3://awscli/cp-big-sha256"}, "SHA256 COMPOSITE"},
		{"put-object-sha256", small, []string{"s3api", "put-object", "--bucket", b, "--key", "put-object-sha256", "--body", small, "--checksum-algorithm", "SHA256"}, "SHA256 FULL_OBJECT"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			aws(t, srv, tc.upload...)
			var head map[string]any
			json.Unmarshal(aws(t, srv, "s3api", "head-object", "--bucket", b, "--key", tc.key, "--checksum-mode", "ENABLED"), &head)
			algo, typ, _ := strings.Cut(tc.checksum, " ")
			if head["Checksum"+algo] == nil || head["ChecksumType"] != typ {
				t.Fatalf("the AWS CLI stored %v, want %s", head, tc.checksum)
			}
			g := gof3r(t, env, nil, "get", "-b", b, "-k", tc.key, "--debug")
			if g.code != 0 || g.outSHA != sums[tc.file] || !strings.Contains(g.stderr, "verify=\""+tc.checksum) {
				t.Fatalf("get: exit %d, sha %s want %s: %s", g.code, g.outSHA, sums[tc.file], g.stderr)
			}
			flip(t, srv, b, tc.key)
			g = gof3r(t, env, nil, "get", "-b", b, "-k", tc.key)
			if g.code != 1 || !strings.Contains(g.stderr, "checksum mismatch") || !strings.Contains(g.stderr, algo) {
				t.Fatalf("get of the damaged object: exit %d: %s", g.code, g.stderr)
			}
		})
	}
}

func flip(t *testing.T, srv *testkit.S3Server, bucket, key string) {
	t.Helper()
	f, err := os.OpenFile(srv.ObjectPath(bucket, key), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	one := make([]byte, 1)
	f.ReadAt(one, st.Size()/2)
	f.WriteAt([]byte{one[0] ^ 4}, st.Size()/2)
}

// s3gof3r's .md5 convention: put --md5 writes .md5/KEY.md5 (hex MD5,
// nothing else); get checks an object that has no other checksum against
// it; an object with none is refused, naming the escape, and --no-md5
// reads it.
func TestMD5Compatibility(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "md5")
	env := srv.Env()
	in := newStream(2*part+3, 7)
	if r := gof3r(t, env, in, "put", "-b", b, "-k", "dir/obj", "--md5", "-s", "5MiB"); r.code != 0 {
		t.Fatalf("put --md5: exit %d: %s", r.code, r.stderr)
	}
	side, err := os.ReadFile(srv.ObjectPath(b, ".md5/dir/obj.md5"))
	if err != nil || len(side) != 32 {
		t.Fatalf(".md5/dir/obj.md5: %q %v", side, err)
	}
	whole, _ := os.ReadFile(srv.ObjectPath(b, "dir/obj"))
	if sum := md5.Sum(whole); hex.EncodeToString(sum[:]) != string(side) {
		t.Fatalf("sidecar %s, object MD5 %x", side, sum)
	}
	if g := gof3r(t, env, nil, "get", "-b", b, "-k", "dir/obj", "--md5"); g.code != 0 || g.outSHA != in.sum() {
		t.Fatalf("get --md5: exit %d: %s", g.code, g.stderr)
	}

	// Objects with no checksum: as s3gof3r left them (with a sidecar) and bare.
	payload := []byte("written by s3gof3r")
	os.WriteFile(srv.ObjectPath(b, "old"), payload, 0o644)
	sum := md5.Sum(payload)
	os.MkdirAll(filepath.Dir(srv.ObjectPath(b, ".md5/old.md5")), 0o755)
	os.WriteFile(srv.ObjectPath(b, ".md5/old.md5"), []byte(hex.EncodeToString(sum[:])), 0o644)
	if g := gof3r(t, env, nil, "get", "-b", b, "-k", "old"); g.code != 0 || g.stdout != string(payload) {
		t.Fatalf("get of an s3gof3r object: exit %d: %s", g.code, g.stderr)
	}
	os.WriteFile(srv.ObjectPath(b, "bare"), payload, 0o644)
	g := gof3r(t, env, nil, "get", "-b", b, "-k", "bare")
	if g.code != 1 || g.stdout != "" || !strings.Contains(g.stderr, "not verified: no checksum recorded with the object") || !strings.Contains(g.stderr, "--no-md5") {
		t.Fatalf("get of an object with no checksum: exit %d, %q, %s", g.code, g.stdout, g.stderr)
	}
	for _, escape := range []string{"--no-md5", "--allow-unverified"} {
		if g := gof3r(t, env, nil, "get", "-b", b, "-k", "bare", escape); g.code != 0 || g.stdout != string(payload) {
			t.Fatalf("get %s: exit %d: %s", escape, g.code, g.stderr)
		}
	}
}

// get -v VERSION reads that version (s3gof3r's -v inside get); -v before
// the command, or alone, still prints gof3r's version; rm -v removes one.
func TestVersionID(t *testing.T) {
	srv := testkit.VersitygwWith(t, testkit.VersitygwOptions{Versioning: true})
	b := "versioned"
	mc := raw(t, srv)
	if err := mc.MakeBucket(context.Background(), b, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := mc.EnableVersioning(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	env := srv.Env()
	if r := gof3r(t, env, strings.NewReader("first"), "put", "-b", b, "-k", "k"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	first, err := client(t, srv).Stat(context.Background(), b, "k")
	if err != nil || first.VersionID == "" {
		t.Fatalf("stat: %+v %v", first, err)
	}
	if r := gof3r(t, env, strings.NewReader("second"), "put", "-b", b, "-k", "k"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, args := range [][]string{
		{"get", "-b", b, "-k", "k", "-v", first.VersionID},
		{"get", "-b", b, "-k", "k", "--versionId", first.VersionID},
		{"get", "-b", b, "-k", "k", "-v" + first.VersionID},
	} {
		if g := gof3r(t, env, nil, args...); g.code != 0 || g.stdout != "first" {
			t.Errorf("gof3r %v: exit %d %q: %s", args, g.code, g.stdout, g.stderr)
		}
	}
	if g := gof3r(t, env, nil, "get", "-b", b, "-k", "k"); g.code != 0 || g.stdout != "second" {
		t.Errorf("get: exit %d %q", g.code, g.stdout)
	}
	// Elsewhere -v is the version, as in s3gof3r (whose cp has no versionId).
	for _, args := range [][]string{{"-v"}, {"-v", "get", "-b", b, "-k", "k"}, {"put", "-v"}, {"cp", "-v", "s3://" + b + "/k", "-"}} {
		if v := gof3r(t, env, nil, args...); v.code != 0 || !strings.HasPrefix(v.stdout, "gof3r ") {
			t.Errorf("gof3r %v: exit %d %q, want the version", args, v.code, v.stdout)
		}
	}
	if r := gof3r(t, env, nil, "rm", "s3://"+b+"/k", "-v", first.VersionID); r.code != 0 {
		t.Fatalf("rm -v: exit %d: %s", r.code, r.stderr)
	}
	if g := gof3r(t, env, nil, "get", "-b", b, "-k", "k", "-v", first.VersionID); g.code != 1 {
		t.Fatalf("get of a removed version: exit %d", g.code)
	}
}

func raw(t *testing.T, srv *testkit.S3Server) *minio.Client {
	t.Helper()
	mc, err := minio.New(srv.Host, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// Object lock from the command line: put locks, rm of the locked object
// fails with exit 1 and says until when; a versioned bucket (AWS's case)
// lets rm add a delete marker and says the locked version stays; a lock on
// a bucket without object lock is refused naming the bucket.
func TestObjectLockFlags(t *testing.T) {
	for _, versioned := range []bool{false, true} {
		t.Run(fmt.Sprintf("versioned=%v", versioned), func(t *testing.T) {
			srv := testkit.VersitygwWith(t, testkit.VersitygwOptions{Versioning: versioned})
			mc := raw(t, srv)
			ctx := context.Background()
			if err := mc.MakeBucket(ctx, "locked", minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
				t.Fatal(err)
			}
			plain := srv.Bucket(t, "plain")
			env := srv.Env()
			if r := gof3r(t, env, newStream(2*part, 3), "put", "-b", "locked", "-k", "k", "--object-lock-mode", "COMPLIANCE", "--object-lock-retain", "2d", "-s", "5MiB"); r.code != 0 {
				t.Fatalf("put with a lock: exit %d: %s", r.code, r.stderr)
			}
			obj, err := client(t, srv).Stat(ctx, "locked", "k")
			if err != nil || obj.Lock.Mode != "COMPLIANCE" {
				t.Fatalf("stat: %+v %v", obj, err)
			}
			until := obj.Lock.Until.Format("2006-01-02T15:04:05Z")
			rmArgs := []string{"rm", "s3://locked/k"}
			if versioned {
				r := gof3r(t, env, nil, rmArgs...)
				if r.code != 0 || !strings.Contains(r.stderr, "delete marker") || !strings.Contains(r.stderr, obj.VersionID) {
					t.Fatalf("rm in a versioned bucket: exit %d: %s", r.code, r.stderr)
				}
				rmArgs = append(rmArgs, "-v", obj.VersionID)
			}
			r := gof3r(t, env, nil, rmArgs...)
			if r.code != 1 || !strings.Contains(r.stderr, "AccessDenied") || !strings.Contains(r.stderr, "Object Lock") || strings.Contains(r.stderr, "AWS_ACCESS_KEY_ID") {
				t.Fatalf("rm of a locked object: exit %d: %s", r.code, r.stderr)
			}
			if !versioned && !strings.Contains(r.stderr, "COMPLIANCE until "+until) {
				t.Fatalf("rm of a locked object does not say until when (%s): %s", until, r.stderr)
			}
			r = gof3r(t, env, strings.NewReader("x"), "put", "-b", plain, "-k", "k", "--object-lock-mode", "GOVERNANCE", "--object-lock-retain", "1d")
			if r.code != 1 || !strings.Contains(r.stderr, "bucket plain was not created with object lock enabled") {
				t.Fatalf("put with a lock into a plain bucket: exit %d: %s", r.code, r.stderr)
			}
			// The variables do the same as the flags.
			lockEnv := append(append([]string{}, env...), "AWS_S3_OBJECT_LOCK_MODE=GOVERNANCE", "AWS_S3_OBJECT_LOCK_RETAIN=1d")
			if r := gof3r(t, lockEnv, strings.NewReader("x"), "put", "-b", "locked", "-k", "env"); r.code != 0 {
				t.Fatalf("put with the lock from the environment: exit %d: %s", r.code, r.stderr)
			}
			if o, err := client(t, srv).Stat(ctx, "locked", "env"); err != nil || o.Lock.Mode != "GOVERNANCE" {
				t.Fatalf("stat: %+v %v", o.Lock, err)
			}
		})
	}
}

// --acl, --sse and the SSE-C key file are accepted and sent (the request
// headers are tested in the s3 package; versitygw stores no SSE), and an
// SSE-C object reads back with its key.
func TestACLAndSSEFlags(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "flags")
	env := srv.Env()
	keyFile := filepath.Join(t.TempDir(), "sse-c.key")
	key := sha256.Sum256([]byte("test key"))
	os.WriteFile(keyFile, key[:], 0o600)
	for i, args := range [][]string{
		{"--acl", "private"},
		{"--acl", "bucket-owner-full-control", "--sse", "AES256"},
		{"--sse", "aws:kms", "--sse-kms-key-id", "alias/backups"},
		{"--sse-c-key-file", keyFile},
	} {
		key := fmt.Sprintf("k%d", i)
		in := newStream(int64(i)*part+10, byte(i))
		if r := gof3r(t, env, in, append([]string{"put", "-b", b, "-k", key, "-s", "5MiB"}, args...)...); r.code != 0 {
			t.Fatalf("put %v: exit %d: %s", args, r.code, r.stderr)
		}
		get := []string{"get", "-b", b, "-k", key}
		if args[0] == "--sse-c-key-file" {
			get = append(get, args...)
		}
		if g := gof3r(t, env, nil, get...); g.code != 0 || g.outSHA != in.sum() {
			t.Fatalf("get %v: exit %d: %s", get, g.code, g.stderr)
		}
	}
	// A key file others can read works, with a warning.
	os.Chmod(keyFile, 0o644)
	r := gof3r(t, env, strings.NewReader("x"), "put", "-b", b, "-k", "warned", "--sse-c-key-file", keyFile)
	if r.code != 0 || !strings.Contains(r.stderr, "readable by others") {
		t.Fatalf("put with a world-readable key file: exit %d: %s", r.code, r.stderr)
	}
	if bytes.Contains([]byte(r.stderr), key[:8]) {
		t.Fatal("the key shows in the output")
	}
}
