package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvAndFiles(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "pw")
	os.WriteFile(secret, []byte("hunter2\n"), 0o600)
	crlf := filepath.Join(dir, "crlf")
	os.WriteFile(crlf, []byte("two\nlines\r\n"), 0o600)
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, maxFileValue+1), 0o600)
	env := NewEnv([]string{
		"PLAIN=a=b", "EMPTY=", "DUP=first", "DUP=last",
		"PW_FILE=" + secret, "ML_FILE=" + crlf,
		"GONE_FILE=" + filepath.Join(dir, "nope"), "BIG_FILE=" + big,
		"BOTH=x", "BOTH_FILE=" + secret,
	})
	for _, c := range []struct {
		name, want, from, err string
		ok                    bool
	}{
		{"PLAIN", "a=b", "env", "", true},
		{"EMPTY", "", "env", "", true},
		{"DUP", "last", "env", "", true},
		{"UNSET", "", "", "", false},
		{"PW", "hunter2", "PW_FILE", "", true},
		{"ML", "two\nlines", "ML_FILE", "", true},
		{"GONE", "", "", "GONE_FILE=" + filepath.Join(dir, "nope") + ": open", false},
		{"BIG", "", "", "larger than", false},
		{"BOTH", "", "", "both BOTH and BOTH_FILE are set", false},
	} {
		v, ok, err := env.Lookup(c.name)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%s: error %v, want one containing %q (and no value)", c.name, err, c.err)
			}
			continue
		}
		if err != nil || ok != c.ok || v.S != c.want || v.From != c.from {
			t.Errorf("%s = %q from %q, %v, %v; want %q from %q, %v", c.name, v.S, v.From, ok, err, c.want, c.from, c.ok)
		}
	}
}
