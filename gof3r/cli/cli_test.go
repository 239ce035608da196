package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/gof3r/s3"
	"cronbox/testkit"
)

const part = 5 << 20 // -s 5MiB in every test: the smallest part S3 allows

// stream is size deterministic pseudo-random bytes, read without holding
// them in memory, and hides every method but Read (stdin is a pipe).
type stream struct {
	r    *rand.ChaCha8
	left int64
	h    hash.Hash
}

func newStream(size int64, seed byte) *stream {
	var s [32]byte
	s[0] = seed
	return &stream{r: rand.NewChaCha8(s), left: size, h: sha256.New()}
}

func (s *stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.left)]
	n, _ := s.r.Read(p)
	s.left -= int64(n)
	s.h.Write(p[:n])
	return n, nil
}

func (s *stream) sum() string { return hex.EncodeToString(s.h.Sum(nil)) }

type result struct {
	code           int
	stdout, stderr string
	outSHA         string
	outLen         int64
}

type hashWriter struct {
	h hash.Hash
	n int64
	b bytes.Buffer // the first 64 KiB, for messages
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	w.n += int64(len(p))
	if w.b.Len() < 64<<10 {
		w.b.Write(p[:min(len(p), 64<<10-w.b.Len())])
	}
	return len(p), nil
}

func gof3r(t *testing.T, env []string, stdin io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.Command(testkit.Build(t, "cronbox/gof3r"), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Stdin = stdin
	out := &hashWriter{h: sha256.New()}
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run gof3r %v: %v", args, err)
	}
	return result{code: code, stdout: out.b.String(), stderr: errb.String(), outSHA: hex.EncodeToString(out.h.Sum(nil)), outLen: out.n}
}

func client(t *testing.T, srv *testkit.S3Server) *s3.Client {
	c, err := s3.New(s3.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assertEmpty checks that bucket holds no object and no multipart upload.
func assertEmpty(t *testing.T, srv *testkit.S3Server, bucket string) {
	t.Helper()
	c := client(t, srv)
	ctx := context.Background()
	ups, err := c.ListMultipartUploads(ctx, bucket, "")
	if err != nil || len(ups) != 0 {
		t.Fatalf("multipart uploads left in %s: %v %v", bucket, ups, err)
	}
	// List hides staging objects; look at the server's disk as well.
	objs, err := c.List(ctx, bucket, "")
	if err != nil || len(objs) != 0 {
		t.Fatalf("objects left in %s: %+v %v", bucket, objs, err)
	}
	entries, _ := os.ReadDir(filepath.Join(srv.Dir, bucket))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".sgwtmp") {
			t.Fatalf("file left in the bucket's directory: %s", e.Name())
		}
	}
}

func TestPutGetSizesAndBuckets(t *testing.T) {
	srv := testkit.Versitygw(t)
	env := srv.Env()
	for _, bucket := range []string{"backups", "backups.example.com"} {
		srv.Bucket(t, bucket)
		for _, tc := range []struct {
			name string
			size int64
		}{
			{"empty", 0}, {"1-byte", 1}, {"part-minus-1", part - 1}, {"exactly-one-part", part},
			{"part-plus-1", part + 1}, {"two-parts-plus-1", 2*part + 1},
		} {
			t.Run(bucket+"/"+tc.name, func(t *testing.T) {
				in := newStream(tc.size, byte(tc.size))
				key := "etcd/" + tc.name + ".db"
				r := gof3r(t, env, in, "put", "-b", bucket, "-k", key, "-s", "5MiB", "-c", "2", "-m", "x-amz-meta-job: test")
				if r.code != 0 {
					t.Fatalf("put exit %d: %s", r.code, r.stderr)
				}
				g := gof3r(t, env, nil, "get", "-b", bucket, "-k", key)
				if g.code != 0 || g.outSHA != in.sum() || g.outLen != tc.size {
					t.Fatalf("get exit %d, %d bytes, sha %s; want %d bytes, sha %s: %s", g.code, g.outLen, g.outSHA, tc.size, in.sum(), g.stderr)
				}
				obj, err := client(t, srv).Stat(context.Background(), bucket, key)
				if err != nil || obj.Checksum.Algorithm != "CRC64NVME" || obj.Checksum.Type != "FULL_OBJECT" || obj.Metadata["job"] != "test" {
					t.Fatalf("stat: %+v %v, want a FULL_OBJECT CRC64NVME", obj, err)
				}
				// The SHA-256 is known before the upload starts only for
				// an input that fits in one part.
				if want := map[bool]string{true: in.sum(), false: ""}[tc.size <= part]; obj.SHA256 != want {
					t.Fatalf("stat: sha256 metadata %q, want %q", obj.SHA256, want)
				}
			})
		}
	}
}

// 200 MiB through a pipe (unknown size) and from a file (-p), then back through cp to a file and stdout.
func TestLargeStreamAndFile(t *testing.T) {
	srv := testkit.Versitygw(t)
	env := srv.Env()
	b := srv.Bucket(t, "big")
	const size = 200 << 20
	in := newStream(size, 200)
	if r := gof3r(t, env, in, "put", "-b", b, "-k", "piped", "-s", "5MiB", "-c", "4"); r.code != 0 {
		t.Fatalf("put from a pipe: exit %d: %s", r.code, r.stderr)
	}
	if g := gof3r(t, env, nil, "get", "-b", b, "-k", "piped"); g.code != 0 || g.outSHA != in.sum() {
		t.Fatalf("get: exit %d sha %s want %s: %s", g.code, g.outSHA, in.sum(), g.stderr)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "dump.db")
	f, _ := os.Create(file)
	src := newStream(size, 201)
	io.Copy(f, src)
	f.Close()
	if r := gof3r(t, env, nil, "cp", file, "s3://"+b+"/from-file"); r.code != 0 {
		t.Fatalf("cp file to s3: exit %d: %s", r.code, r.stderr)
	}
	back := filepath.Join(dir, "back.db")
	if r := gof3r(t, env, nil, "cp", "s3://"+b+"/from-file", back); r.code != 0 {
		t.Fatalf("cp s3 to file: exit %d: %s", r.code, r.stderr)
	}
	got, _ := os.ReadFile(back)
	if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != src.sum() {
		t.Fatal("file copied back differs")
	}
	ups, _ := client(t, srv).ListMultipartUploads(context.Background(), b, "")
	objs, _ := client(t, srv).List(context.Background(), b, "")
	if len(ups) != 0 || len(objs) != 2 {
		t.Fatalf("left: uploads %v, objects %+v; want no uploads and 2 objects", ups, objs)
	}
}

func TestFailuresExitOneWithAClearMessage(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "errs")
	env := srv.Env()
	wrong := append(srv.Env(), "AWS_SECRET_ACCESS_KEY=not-the-secret-at-all")
	r := gof3r(t, wrong, strings.NewReader("x"), "put", "-b", b, "-k", "k")
	if r.code != 1 || !strings.Contains(r.stderr, "403") || !strings.Contains(r.stderr, "put s3://errs/k") || strings.Contains(r.stderr, "not-the-secret-at-all") {
		t.Fatalf("wrong credentials: exit %d, stderr %q; want 1 and a 403 naming the object, without the secret", r.code, r.stderr)
	}
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
		t.Fatalf("want one line on stderr, got %q", r.stderr)
	}
	r = gof3r(t, env, strings.NewReader("x"), "put", "-b", "no-such-bucket", "-k", "k")
	if r.code != 1 || !strings.Contains(r.stderr, "NoSuchBucket") {
		t.Fatalf("missing bucket: exit %d %q", r.code, r.stderr)
	}
	r = gof3r(t, env, nil, "get", "-b", b, "-k", "missing")
	if r.code != 1 || !strings.Contains(r.stderr, "NoSuchKey") {
		t.Fatalf("missing key: exit %d %q", r.code, r.stderr)
	}
	srv.Stop()
	r = gof3r(t, append(env, "X=1"), strings.NewReader("x"), "put", "-b", b, "-k", "k", "--retries", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "put s3://errs/k") {
		t.Fatalf("server down: exit %d %q", r.code, r.stderr)
	}
}

func TestCorruptedObjectFailsGet(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "corrupt")
	env := srv.Env()
	for _, size := range []int64{100, 2*part + 3} {
		key := fmt.Sprintf("obj-%d", size)
		if r := gof3r(t, env, newStream(size, 9), "put", "-b", b, "-k", key, "-s", "5MiB"); r.code != 0 {
			t.Fatalf("put: %s", r.stderr)
		}
		f, err := os.OpenFile(srv.ObjectPath(b, key), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		one := make([]byte, 1)
		f.ReadAt(one, size/2)
		f.WriteAt([]byte{one[0] ^ 1}, size/2)
		f.Close()
		r := gof3r(t, env, nil, "get", "-b", b, "-k", key)
		if r.code != 1 || !strings.Contains(r.stderr, "checksum mismatch") {
			t.Fatalf("size %d: get of a corrupted object: exit %d %q", size, r.code, r.stderr)
		}
		out := filepath.Join(t.TempDir(), "out")
		r = gof3r(t, env, nil, "get", "-b", b, "-k", key, "-p", out)
		if _, err := os.Stat(out); r.code != 1 || err == nil {
			t.Fatalf("get -p of a corrupted object: exit %d, file left: %v", r.code, err == nil)
		}
	}
	// An object that gof3r did not write has no checksum: refused unless asked.
	os.WriteFile(srv.ObjectPath(b, "foreign"), []byte("x"), 0o644)
	if r := gof3r(t, env, nil, "get", "-b", b, "-k", "foreign"); r.code != 1 {
		t.Fatalf("foreign object: exit %d", r.code)
	}
	if r := gof3r(t, env, nil, "get", "-b", b, "-k", "foreign", "--allow-unverified"); r.code != 0 || r.stdout != "x" {
		t.Fatalf("foreign object with --allow-unverified: exit %d %q", r.code, r.stderr)
	}
}

// SIGTERM or SIGINT in the middle of an upload from a pipe: the process
// exits 1 and leaves neither an object nor a multipart upload.
func TestSignalMidUploadLeavesNothing(t *testing.T) {
	srv := testkit.Versitygw(t)
	c := client(t, srv)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			b := srv.Bucket(t, "sig-"+strings.ToLower(strings.ReplaceAll(sig.String(), " ", "")))
			cmd := exec.Command(testkit.Build(t, "cronbox/gof3r"), "put", "-b", b, "-k", "half", "-s", "5MiB", "-c", "2")
			cmd.Env = srv.Env()
			stdin, _ := cmd.StdinPipe()
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Three parts' worth, then the stream stays open, as a dump in progress would.
			go io.Copy(stdin, newStream(3*part, 1))
			testkit.WaitFor(t, 20*time.Second, "a multipart upload in progress", func() error {
				ups, err := c.ListMultipartUploads(context.Background(), b, "")
				if err != nil {
					return err
				}
				if len(ups) == 0 {
					return testkit.ErrNotYet
				}
				return nil
			})
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("after %v: %v (stderr %q), want exit 1", sig, err, errb.String())
			}
			stdin.Close()
			assertEmpty(t, srv, b)
		})
	}
}

func TestUsageAndConfigErrorsExitTwo(t *testing.T) {
	srv := testkit.Versitygw(t)
	env := srv.Env()
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"put", "-k", "k"}, nil, "--bucket"},
		{[]string{"get", "-b", "b"}, nil, "--key"},
		{[]string{"frob"}, nil, "unknown command"},
		{[]string{}, nil, "no command"},
		{[]string{"put", "-b", "b", "-k", "k", "-s", "1000"}, nil, "--partsize"},
		{[]string{"put", "-b", "b", "-k", "k", "-c", "zero"}, nil, "--concurrency"},
		{[]string{"put", "-b", "b", "-k", "k", "--frobnicate"}, nil, "--frobnicate"},
		{[]string{"put", "-b", "b", "-k", "k", "-m", "X-Evil: 1"}, nil, "X-Evil"},
		{[]string{"cp", "a", "b"}, nil, "s3://"},
		{[]string{"put", "-b", "b", "-k", "k"}, []string{"AWS_S3_ENDPOINT=ftp://x"}, "AWS_S3_ENDPOINT"},
		{[]string{"put", "-b", "b", "-k", "k"}, []string{"AWS_SECRET_ACCESS_KEY_FILE=/nonexistent"}, "AWS_SECRET_ACCESS_KEY"},
		{[]string{"put", "-b", "b", "-k", "k", "--sse", "AES512"}, nil, "--sse"},
		{[]string{"put", "-b", "b", "-k", "k", "--acl", "everyone"}, nil, "--acl"},
		{[]string{"put", "-b", "b", "-k", "k", "--object-lock-mode", "COMPLIANCE"}, nil, "--object-lock-retain"},
		{[]string{"put", "-b", "b", "-k", "k", "--object-lock-retain", "30d"}, nil, "--object-lock-mode"},
		{[]string{"put", "-b", "b", "-k", "k", "--sse-c-key-file", "/nonexistent"}, nil, "--sse-c-key-file"},
		{[]string{"get", "-b", "b", "-k", "k", "-v"}, nil, "--versionId"},
		{[]string{"put", "-b", "b", "-k", "k"}, []string{"AWS_S3_OBJECT_LOCK_MODE=GOVERNANCE"}, "AWS_S3_OBJECT_LOCK_RETAIN"},
		{[]string{"get", "-b", "b", "-k", "k"}, []string{"AWS_S3_SSE_C_KEY=c2hvcnQ="}, "AWS_S3_SSE_C_KEY"},
	} {
		r := gof3r(t, append(append([]string{}, env...), tc.env...), strings.NewReader(""), tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("gof3r %v: exit %d, stderr %q; want 2 and a message naming %s", tc.args, r.code, r.stderr, tc.want)
		}
	}
	h := gof3r(t, nil, nil, "--help")
	if h.code != 0 || !strings.Contains(h.stdout, "part size x concurrency") {
		t.Errorf("--help: exit %d, %q", h.code, h.stdout)
	}
	if v := gof3r(t, nil, nil, "--version"); v.code != 0 || !strings.HasPrefix(v.stdout, "gof3r ") {
		t.Errorf("--version: exit %d, %q", v.code, v.stdout)
	}
}

// The ways users name the server and the credentials all reach it.
func TestEndpointAndCredentialForms(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "forms")
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte(srv.SecretKey+"\n"), 0o600)
	credsFile := filepath.Join(dir, "credentials")
	os.WriteFile(credsFile, []byte(fmt.Sprintf("[backup]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)), 0o600)
	keys := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey}
	for i, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"endpoint env URL", srv.Env(), nil},
		{"bare host and --no-ssl", keys, []string{"--endpoint", srv.Host, "--no-ssl"}},
		{"URL flag, region flag, forced path style", keys, []string{"--endpoint=" + srv.Endpoint, "--region", "us-east-1", "--path-style"}},
		{"secret from a _FILE", []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY_FILE=" + secretFile, "AWS_S3_ENDPOINT=" + srv.Endpoint}, nil},
		{"shared credentials file", []string{"AWS_SHARED_CREDENTIALS_FILE=" + credsFile, "AWS_PROFILE=backup", "AWS_S3_ENDPOINT=" + srv.Endpoint}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("k%d", i)
			args := append([]string{"put", "-b", b, "-k", key}, tc.args...)
			if r := gof3r(t, tc.env, strings.NewReader(tc.name), args...); r.code != 0 {
				t.Fatalf("put: exit %d %s", r.code, r.stderr)
			}
			args = append([]string{"get", "-b", b, "-k", key}, tc.args...)
			if r := gof3r(t, tc.env, nil, args...); r.code != 0 || r.stdout != tc.name {
				t.Fatalf("get: exit %d %q %s", r.code, r.stdout, r.stderr)
			}
			if r := gof3r(t, tc.env, nil, append([]string{"rm", "s3://" + b + "/" + key}, tc.args...)...); r.code != 0 {
				t.Fatalf("rm: exit %d %s", r.code, r.stderr)
			}
		})
	}
	assertEmpty(t, srv, b)
}

func TestProgressOnRequest(t *testing.T) {
	srv := testkit.Versitygw(t)
	b := srv.Bucket(t, "progress")
	r := gof3r(t, srv.Env(), newStream(2*part, 5), "put", "-b", b, "-k", "k", "--progress")
	if r.code != 0 || !strings.Contains(r.stderr, "put 10.0 MiB") || !strings.Contains(r.stderr, "MiB/s") {
		t.Fatalf("put --progress: exit %d, stderr %q", r.code, r.stderr)
	}
	r = gof3r(t, srv.Env(), nil, "get", "-b", b, "-k", "k")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("get without a terminal: exit %d, stderr %q; want silence", r.code, r.stderr)
	}
}
