package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"cronbox/testkit"
)

// put --compress zstd --encrypt-to stores age(zstd(stream)) with metadata
// saying so; get undoes it with the identity alone, --raw gives the stored
// bytes (which stock age and zstd open), and a wrong or missing identity is
// one line, exit 1, nothing at -p. An object without the metadata streams as
// it is stored, even if its bytes look compressed.
func TestPutGetCodec(t *testing.T) {
	for _, p := range []string{"age", "zstd"} {
		testkit.Need(t, p)
	}
	srv := testkit.Versitygw(t)
	bucket := srv.Bucket(t, "bkt")
	env := srv.Env()
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	key, wrong := filepath.Join(dir, "key"), filepath.Join(dir, "wrong")
	os.WriteFile(key, []byte(id.String()+"\n"), 0o600)
	os.WriteFile(wrong, []byte(other.String()+"\n"), 0o600)
	// Compressible: a stream of repeated text, larger than two parts.
	plain := bytes.Repeat([]byte("etcd /registry/secrets/default/token value value value\n"), 250000)

	r := gof3r(t, append(env, "GOF3R_COMPRESS=zstd"), bytes.NewReader(plain), "put", "-b", bucket, "-k", "x.zst.age", "-s", "5MiB", "--encrypt-to", id.Recipient().String())
	if r.code != 0 {
		t.Fatalf("put: %d %s", r.code, r.stderr)
	}
	o, err := client(t, srv).Stat(context.Background(), bucket, "x.zst.age")
	if err != nil || o.Metadata["cronbox-compression"] != "zstd" || o.Metadata["cronbox-encryption"] != "age" || o.ContentType != "application/octet-stream" || o.Size*5 > int64(len(plain)) {
		t.Fatalf("stored %+v (%v); want zstd+age metadata and a fifth of %d bytes at most", o, err, len(plain))
	}
	r = gof3r(t, env, nil, "get", "-b", bucket, "-k", "x.zst.age", "--identity", key)
	if r.code != 0 || r.outLen != int64(len(plain)) || !bytes.HasPrefix(plain, []byte(r.stdout)) {
		t.Fatalf("get with the identity: exit %d, %d bytes: %s", r.code, r.outLen, r.stderr)
	}
	r = gof3r(t, append(env, "GOF3R_IDENTITY="+id.String()), nil, "get", "-b", bucket, "-k", "x.zst.age")
	if r.code != 0 || r.outLen != int64(len(plain)) {
		t.Fatalf("get with GOF3R_IDENTITY: exit %d: %s", r.code, r.stderr)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no identity", nil, "no identity"},
		{"wrong identity", []string{"--identity", wrong}, "no given identity"},
	} {
		out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
		r = gof3r(t, env, nil, append([]string{"get", "-b", bucket, "-k", "x.zst.age", "-p", out}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%s: exit %d, %q", tc.name, r.code, r.stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: a failed get left %s", tc.name, out)
		}
	}
	raw := filepath.Join(dir, "raw.zst.age")
	if r = gof3r(t, env, nil, "get", "-b", bucket, "-k", "x.zst.age", "--raw", "-p", raw); r.code != 0 {
		t.Fatalf("get --raw: %s", r.stderr)
	}
	cmd := exec.Command("bash", "-o", "pipefail", "-c", `age -d -i "$1" "$2" | zstd -d`, "_", key, raw)
	got, err := cmd.Output()
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("stock age | zstd on the raw object: %d bytes, %v", len(got), err)
	}

	// A zstd file put as it is (no --compress): get leaves it alone.
	if r = gof3r(t, env, nil, "put", "-b", bucket, "-k", "other.zst", "-p", raw); r.code != 0 {
		t.Fatal(r.stderr)
	}
	rawBytes, _ := os.ReadFile(raw)
	if r = gof3r(t, env, nil, "get", "-b", bucket, "-k", "other.zst"); r.code != 0 || r.outLen != int64(len(rawBytes)) {
		t.Fatalf("get of an object without codec metadata: exit %d, %d bytes (want %d as stored)", r.code, r.outLen, len(rawBytes))
	}

	// Bad codec input: exit 2, one line, nothing stored.
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--compress", "lz4"}, "--compress"},
		{[]string{"GOF3R_COMPRESS=brotli"}, nil, "GOF3R_COMPRESS"},
		{nil, []string{"--compress", "gzip", "--compress-level", "11"}, "--compress-level"},
		{nil, []string{"--encrypt-to", "age1nope"}, "age1nope"},
		{[]string{"GOF3R_ENCRYPT_TO=" + id.String()}, nil, "GOF3R_ENCRYPT_TO"},
		{nil, []string{"--recipients-file", filepath.Join(dir, "missing")}, "--recipients-file"},
	} {
		r = gof3r(t, append(append([]string{}, env...), tc.env...), strings.NewReader("x"), append([]string{"put", "-b", bucket, "-k", "bad"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 || strings.Contains(r.stderr, id.String()) {
			t.Errorf("%v %v: exit %d, %q; want 2 and one line with %q", tc.env, tc.args, r.code, r.stderr, tc.want)
		}
	}
	if _, err := client(t, srv).Stat(context.Background(), bucket, "bad"); err == nil {
		t.Error("a refused put stored an object")
	}
}
