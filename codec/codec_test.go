package codec_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"cronbox/codec"
)

// data is compressible but not trivially so, larger than every buffer.
func data(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	words := []string{"etcd", "key", "/registry/pods/", "value", "\x00\x00\x00\x01", "kubernetes.io"}
	for i := 0; i < n; {
		w := words[r.IntN(len(words))]
		if r.IntN(8) == 0 {
			w = string([]byte{byte(r.Uint32()), byte(r.Uint32())})
		}
		i += copy(b[i:], w)
	}
	return b
}

type keys struct {
	id   *age.X25519Identity
	pass age.Recipient
	pid  age.Identity
}

func newKeys(t *testing.T) keys {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	_, pid, err := codec.Passphrase("correct horse battery staple\n")
	if err != nil {
		t.Fatal(err)
	}
	// A cheap work factor: scrypt at age's 2^18 takes seconds under -race
	// (the etcd-backup drill runs the default, on the real binary).
	pr, _ := age.NewScryptRecipient("correct horse battery staple")
	pr.SetWorkFactor(12)
	return keys{id: id, pass: pr, pid: pid}
}

func encode(t *testing.T, in []byte, o codec.Options) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := codec.NewWriter(&out, o)
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes, so no layer sees aligned input.
	for rest := in; len(rest) > 0; {
		n := min(len(rest), 70001)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestRoundTrip(t *testing.T) {
	k := newKeys(t)
	in := data(3<<20 + 17)
	for _, tc := range []struct {
		name string
		o    codec.Options
		ids  []age.Identity
	}{
		{"none", codec.Options{}, nil},
		{"zstd", codec.Options{Compression: codec.Zstd}, nil},
		{"zstd level 19", codec.Options{Compression: codec.Zstd, Level: 19}, nil},
		{"gzip", codec.Options{Compression: codec.Gzip}, nil},
		{"gzip level 1", codec.Options{Compression: codec.Gzip, Level: 1}, nil},
		{"age", codec.Options{Recipients: []age.Recipient{k.id.Recipient()}}, []age.Identity{k.id}},
		{"zstd+age", codec.Options{Compression: codec.Zstd, Recipients: []age.Recipient{k.id.Recipient()}}, []age.Identity{k.id}},
		{"gzip+age", codec.Options{Compression: codec.Gzip, Recipients: []age.Recipient{k.id.Recipient()}}, []age.Identity{k.id}},
		{"zstd+passphrase", codec.Options{Compression: codec.Zstd, Recipients: []age.Recipient{k.pass}}, []age.Identity{k.pid}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := encode(t, in, tc.o)
			want := tc.o.Layers()
			if want.Compressed() && len(enc) >= len(in)/2 {
				t.Errorf("%s: %d bytes from %d", tc.name, len(enc), len(in))
			}
			for _, expect := range []*codec.Layers{nil, &want} {
				r, err := codec.NewReader(bytes.NewReader(enc), codec.ReadOptions{Identities: tc.ids, Expect: expect})
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil || !bytes.Equal(got, in) {
					t.Fatalf("decoded %d bytes (%v), want %d equal bytes", len(got), err, len(in))
				}
				if r.Layers().String() != want.String() {
					t.Fatalf("layers %s, want %s", r.Layers(), want)
				}
			}
			if l := codec.Inspect(bytes.NewReader(enc)); l.Encrypted != want.Encrypted || (!l.Encrypted && l.Compression != want.Compression) {
				t.Fatalf("Inspect: %+v, want %+v", l, want)
			}
		})
	}
}

// A wrong or missing identity fails at once, naming what it is encrypted
// to; a flipped byte or a truncated stream fails the read with ErrCorrupt
// before the end, never a silent short read.
func TestDamage(t *testing.T) {
	k := newKeys(t)
	other, _ := age.GenerateX25519Identity()
	in := data(1<<20 + 5)
	enc := encode(t, in, codec.Options{Compression: codec.Zstd, Recipients: []age.Recipient{k.id.Recipient()}})
	open := func(b []byte, ids ...age.Identity) error {
		r, err := codec.NewReader(bytes.NewReader(b), codec.ReadOptions{Identities: ids})
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(io.Discard, r)
		return err
	}
	if err := open(enc); !errors.Is(err, codec.ErrNoIdentity) || !strings.Contains(err.Error(), "X25519") {
		t.Errorf("no identity: %v", err)
	}
	if err := open(enc, other); !errors.Is(err, codec.ErrWrongIdentity) {
		t.Errorf("wrong identity: %v", err)
	}
	if err := open(enc, k.pid); !errors.Is(err, codec.ErrWrongIdentity) {
		t.Errorf("a passphrase for a key-encrypted stream: %v", err)
	}
	flipped := bytes.Clone(enc)
	flipped[len(flipped)/2] ^= 0x01
	if err := open(flipped, k.id); !errors.Is(err, codec.ErrCorrupt) {
		t.Errorf("flipped byte: %v", err)
	}
	for _, cut := range []int{len(enc) - 1, len(enc) / 2, 200} {
		if err := open(enc[:cut], k.id); err == nil {
			t.Errorf("truncated at %d of %d: no error", cut, len(enc))
		}
	}
	// Unencrypted zstd and gzip: truncation and damage are caught too.
	for _, c := range []codec.Compression{codec.Zstd, codec.Gzip} {
		e := encode(t, in, codec.Options{Compression: c})
		if err := open(e[:len(e)-9]); !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("%s truncated: %v", c, err)
		}
		f := bytes.Clone(e)
		f[len(f)-20] ^= 0x10
		if err := open(f); err == nil {
			t.Errorf("%s flipped: no error", c)
		}
	}
}

// Metadata that disagrees with the bytes is refused; a plain stream that
// merely starts like gzip is not decompressed when the metadata says it is
// not compressed.
func TestExpect(t *testing.T) {
	k := newKeys(t)
	gz := encode(t, []byte("hello"), codec.Options{Compression: codec.Gzip})
	enc := encode(t, gz, codec.Options{Recipients: []age.Recipient{k.id.Recipient()}})
	expect := codec.Layers{Compression: codec.None, Encrypted: true}
	r, err := codec.NewReader(bytes.NewReader(enc), codec.ReadOptions{Identities: []age.Identity{k.id}, Expect: &expect})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); !bytes.Equal(got, gz) {
		t.Fatal("a .gz stored encrypted came back decompressed")
	}
	for _, tc := range []struct {
		b      []byte
		expect codec.Layers
	}{
		{gz, codec.Layers{Compression: codec.Zstd}},
		{gz, codec.Layers{Compression: codec.Gzip, Encrypted: true}},
		{enc, codec.Layers{Compression: codec.None}},
	} {
		if _, err := codec.NewReader(bytes.NewReader(tc.b), codec.ReadOptions{Identities: []age.Identity{k.id}, Expect: &tc.expect}); !errors.Is(err, codec.ErrLayers) {
			t.Errorf("expect %s: %v", tc.expect, err)
		}
	}
}

func TestNamesAndMetadata(t *testing.T) {
	for _, tc := range []struct {
		l    codec.Layers
		suf  string
		meta string
	}{
		{codec.Layers{Compression: codec.None}, "", ""},
		{codec.Layers{Compression: codec.Zstd}, ".zst", "cronbox-compression=zstd"},
		{codec.Layers{Compression: codec.Gzip, Encrypted: true}, ".gz.age", "cronbox-compression=gzip,cronbox-encryption=age"},
		{codec.Layers{Compression: codec.Zstd, Encrypted: true, Recipients: []string{"X25519"}}, ".zst.age", "cronbox-age-recipients=X25519,cronbox-compression=zstd,cronbox-encryption=age"},
	} {
		if got := tc.l.Suffix(); got != tc.suf {
			t.Errorf("%s: suffix %q, want %q", tc.l, got, tc.suf)
		}
		base, l := codec.SplitName("x.db" + tc.suf)
		if base != "x.db" || l.String() != tc.l.String() {
			t.Errorf("SplitName(x.db%s) = %s, %s", tc.suf, base, l)
		}
		m := tc.l.Metadata()
		var kv []string
		for _, k := range []string{"cronbox-age-recipients", "cronbox-compression", "cronbox-encryption"} {
			if v, ok := m[k]; ok {
				kv = append(kv, k+"="+v)
			}
		}
		if got := strings.Join(kv, ","); got != tc.meta {
			t.Errorf("%s: metadata %s, want %s", tc.l, got, tc.meta)
		}
		back, ok, err := codec.FromMetadata(m)
		if err != nil || ok != !tc.l.Plain() || back.String() != tc.l.String() {
			t.Errorf("FromMetadata(%v) = %s %v %v", m, back, ok, err)
		}
	}
	if _, _, err := codec.FromMetadata(map[string]string{"cronbox-compression": "lz4"}); err == nil {
		t.Error("unknown compression in metadata accepted")
	}
}

func TestParse(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	rs, err := codec.ParseRecipients(id.Recipient().String() + ", " + id.Recipient().String() + " # two\n\n# comment\n")
	if err != nil || len(rs) != 2 {
		t.Fatalf("ParseRecipients: %d, %v", len(rs), err)
	}
	for _, bad := range []string{"age1notakey", "ssh-ed25519 AAAA", "hello"} {
		if _, err := codec.ParseRecipients(bad); err == nil {
			t.Errorf("%q accepted as a recipient", bad)
		}
	}
	_, err = codec.ParseRecipients(id.String())
	if err == nil || strings.Contains(err.Error(), id.String()) {
		t.Errorf("a private key given as recipient: %v (must not echo it)", err)
	}
	for _, s := range []string{"zstd", "gzip", "none", "", "ZSTD"} {
		if _, err := codec.ParseCompression(s); err != nil {
			t.Errorf("ParseCompression(%q): %v", s, err)
		}
	}
	if _, err := codec.ParseCompression("lz4"); err == nil {
		t.Error("lz4 accepted")
	}
	for _, tc := range []struct {
		c     codec.Compression
		level string
		ok    bool
	}{{codec.Zstd, "19", true}, {codec.Zstd, "23", false}, {codec.Gzip, "9", true}, {codec.Gzip, "10", false}, {codec.None, "3", false}, {codec.Zstd, "x", false}} {
		if _, err := codec.ParseLevel(tc.c, tc.level); (err == nil) != tc.ok {
			t.Errorf("ParseLevel(%s, %s): %v", tc.c, tc.level, err)
		}
	}
	if err := (codec.Options{Recipients: []age.Recipient{id.Recipient(), mustPass(t)}}).Check(); err == nil {
		t.Error("passphrase with a recipient accepted")
	}

	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("# created: now\n"+id.String()+"\n"), 0o600)
	ids, warn, err := codec.ReadIdentityFile(key)
	if err != nil || len(ids) != 1 || warn != "" {
		t.Fatalf("ReadIdentityFile: %d %q %v", len(ids), warn, err)
	}
	os.Chmod(key, 0o644)
	if _, warn, _ := codec.ReadIdentityFile(key); !strings.Contains(warn, "world-readable") {
		t.Errorf("a world-readable key: warning %q", warn)
	}
	if _, _, err := codec.ReadIdentityFile(filepath.Join(dir, "missing")); !codec.IsNotExist(err) {
		t.Errorf("missing key file: %v", err)
	}
	os.WriteFile(key, []byte("AGE-SECRET-KEY-1NOTAKEY\n"), 0o600)
	if _, _, err := codec.ReadIdentityFile(key); err == nil || strings.Contains(err.Error(), "NOTAKEY") {
		t.Errorf("bad identity: %v (must not echo it)", err)
	}
}

func mustPass(t *testing.T) age.Recipient {
	r, _, err := codec.Passphrase("x")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The Encoder gives what NewWriter gives; Close waits for its goroutine, so
// a counting source may be read as soon as Close returns (pinned with -race),
// also when the consumer stops early.
func TestEncoder(t *testing.T) {
	in := data(4 << 20)
	src := &counting{r: bytes.NewReader(in)}
	e, err := codec.Encode(src, codec.Options{Compression: codec.Zstd})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, e); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if src.n != int64(len(in)) {
		t.Fatalf("source read %d of %d", src.n, len(in))
	}
	r, _ := codec.NewReader(&out, codec.ReadOptions{})
	got, _ := io.ReadAll(r)
	if sha256.Sum256(got) != sha256.Sum256(in) {
		t.Fatal("round trip through the Encoder differs")
	}

	// The consumer stops after 100 KiB.
	src = &counting{r: bytes.NewReader(in)}
	e, _ = codec.Encode(src, codec.Options{})
	io.CopyN(io.Discard, e, 100<<10)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	_ = src.n // read after Close: the race detector would see a concurrent Read

	// A source error reaches the reader as it is, not as io.EOF.
	boom := errors.New("boom")
	e, _ = codec.Encode(io.MultiReader(bytes.NewReader(in[:1<<20]), errReader{boom}), codec.Options{Compression: codec.Gzip})
	if _, err := io.Copy(io.Discard, e); !errors.Is(err, boom) {
		t.Fatalf("source error: %v", err)
	}
	if err := e.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close after a source error: %v", err)
	}
}

type counting struct {
	r io.Reader
	n int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// What codec writes, stock tools read: age 1.1 (Debian's), zstd and gzip.
func TestStockTools(t *testing.T) {
	for _, p := range []string{"age", "zstd", "gzip"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is not installed (make deps): %v", p, err)
		}
	}
	k := newKeys(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "key.txt")
	os.WriteFile(key, []byte(k.id.String()+"\n"), 0o600)
	in := data(2<<20 + 3)
	for _, tc := range []struct {
		o   codec.Options
		cmd string
	}{
		{codec.Options{Compression: codec.Zstd, Recipients: []age.Recipient{k.id.Recipient()}}, `age -d -i "$KEY" "$IN" | zstd -d`},
		{codec.Options{Compression: codec.Gzip, Recipients: []age.Recipient{k.id.Recipient()}}, `age -d -i "$KEY" "$IN" | gzip -d`},
		{codec.Options{Compression: codec.Zstd}, `zstd -d < "$IN"`},
		{codec.Options{Compression: codec.Gzip, Level: 9}, `gzip -d < "$IN"`},
	} {
		enc := encode(t, in, tc.o)
		path := filepath.Join(dir, "in")
		os.WriteFile(path, enc, 0o600)
		cmd := exec.Command("bash", "-o", "pipefail", "-c", tc.cmd)
		cmd.Env = append(os.Environ(), "KEY="+key, "IN="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("%s: %q gave %d bytes (%v): %s", tc.o.Layers(), tc.cmd, len(out), err, stderr.String())
		}
	}
	// And the other way: stock tools' output reads here.
	path := filepath.Join(dir, "plain")
	os.WriteFile(path, in, 0o600)
	cmd := exec.Command("sh", "-c", `zstd -q -c "$IN" | age -r "$R" > "$IN.zst.age"`)
	cmd.Env = append(os.Environ(), "IN="+path, "R="+k.id.Recipient().String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stock encrypt: %v %s", err, out)
	}
	enc, _ := os.ReadFile(path + ".zst.age")
	r, err := codec.NewReader(bytes.NewReader(enc), codec.ReadOptions{Identities: []age.Identity{k.id}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("stock zstd|age output: %d bytes, %v", len(got), err)
	}
}

// age writes its header as soon as it starts: the Encoder must not block on
// it before anyone reads (it did: every encrypted save hung).
func TestEncoderEncrypted(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	in := data(1 << 20)
	e, err := codec.Encode(bytes.NewReader(in), codec.Options{Compression: codec.Zstd, Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := codec.NewReader(e, codec.ReadOptions{Identities: []age.Identity{id}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// NewWriter writes nothing before the first Write or Close: callers hand it
// pipes that are read only once it has returned (the S3 put's encode stage;
// a gof3r put --encrypt-to hung on age's header before).
func TestNewWriterWritesNothingUpFront(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	for _, o := range []codec.Options{
		{Recipients: []age.Recipient{id.Recipient()}},
		{Compression: codec.Zstd, Recipients: []age.Recipient{id.Recipient()}},
		{Compression: codec.Gzip},
		{Compression: codec.Zstd},
	} {
		pr, pw := io.Pipe()
		w, err := codec.NewWriter(pw, o) // nobody reads pr yet: a write would block here
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan []byte)
		go func() { b, _ := io.ReadAll(pr); done <- b }()
		w.Write([]byte("hello"))
		w.Close()
		pw.Close()
		r, err := codec.NewReader(bytes.NewReader(<-done), codec.ReadOptions{Identities: []age.Identity{id}})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(r); string(got) != "hello" {
			t.Fatalf("%s: %q", o.Layers(), got)
		}
	}
}
