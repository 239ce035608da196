package codecflags

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"cronbox/clikit"
	"cronbox/codec"
)

// values builds Values over a flag set that read args and env, as a tool does.
func values(t *testing.T, args []string, env map[string]string) (Values, *bytes.Buffer) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	v := Values{Prefix: "TOOL", Getenv: getenv}
	fs := clikit.NewFlagSet("tool", clikit.Getenv(getenv))
	fs.String(&v.Compress, "compress", "none", "", "TOOL_COMPRESS")
	fs.String(&v.CompressLevel, "compress-level", "", "", "TOOL_COMPRESS_LEVEL")
	fs.String(&v.RecipientsFile, "recipients-file", "", "", "TOOL_RECIPIENTS_FILE")
	fs.String(&v.PassphraseFile, "passphrase-file", "", "", "TOOL_PASSPHRASE_FILE")
	fs.String(&v.Identity, "identity", "", "", "TOOL_IDENTITY_FILE")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	v.Flags, v.Log = fs, slog.New(slog.NewTextHandler(&log, nil))
	return v, &log
}

func file(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOptionsRefusalsNameTheirSource(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pass := file(t, "correct horse\n", 0o600)
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown compression", []string{"--compress", "lz4"}, nil, "--compress: "},
		{"level from its variable", nil, map[string]string{"TOOL_COMPRESS": "zstd", "TOOL_COMPRESS_LEVEL": "99"}, "TOOL_COMPRESS_LEVEL: "},
		{"missing recipients file", []string{"--recipients-file", "/nonexistent/r"}, nil, "--recipients-file /nonexistent/r: "},
		{"both passphrases", []string{"--passphrase-file", pass}, map[string]string{"TOOL_PASSPHRASE": "x"}, "TOOL_PASSPHRASE and --passphrase-file are both set: set only one"},
		{"empty passphrase file", []string{"--passphrase-file", file(t, "\n", 0o600)}, nil, "the file is empty"},
		{"passphrase and recipients", []string{"--passphrase-file", pass, "--recipients-file", file(t, id.Recipient().String()+"\n", 0o600)}, nil, "--passphrase-file and recipients"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, _ := values(t, c.args, c.env)
			_, err := v.Options()
			if err == nil || !clikit.IsUsage(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want a usage error containing %q", err, c.want)
			}
		})
	}
}

func TestOptionsAndIdentitiesRoundTrip(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	v, _ := values(t, []string{"--compress", "zstd", "--recipients-file", file(t, id.Recipient().String()+"\n", 0o600)}, nil)
	o, err := v.Options()
	if err != nil {
		t.Fatal(err)
	}
	if l := o.Layers(); l.Compression != codec.Zstd || !l.Encrypted {
		t.Fatalf("layers = %+v; want zstd, encrypted", l)
	}
	// The inline identity opens what the recipient was given.
	r, _ := values(t, nil, map[string]string{"TOOL_IDENTITY": id.String()})
	ids, err := r.Identities()
	if err != nil || len(ids) != 1 {
		t.Fatalf("identities = %v, %v; want one", ids, err)
	}
	var stored bytes.Buffer
	w, err := codec.NewWriter(&stored, o)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("etcd"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	layers := o.Layers()
	d, err := codec.NewReader(&stored, codec.ReadOptions{Identities: ids, Expect: &layers})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(d); err != nil || got.String() != "etcd" {
		t.Fatalf("read back %q, %v", got.String(), err)
	}
}

func TestIdentitiesWarnOnAFileOthersMayRead(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := file(t, id.String()+"\n", 0o644)
	v, log := values(t, []string{"--identity", keyFile}, nil)
	if _, err := v.Identities(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "identity file is not private") || !strings.Contains(log.String(), "world-readable") {
		t.Fatalf("log = %q; want the warning", log.String())
	}
	both, _ := values(t, []string{"--identity", keyFile}, map[string]string{"TOOL_IDENTITY": id.String()})
	if _, err := both.Identities(); err == nil || !strings.Contains(err.Error(), "TOOL_IDENTITY and --identity are both set") {
		t.Fatalf("err = %v; want both set refused", err)
	}
}
