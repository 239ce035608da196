package subst

// These tests measure github.com/a8m/envsubst v1.4.3 beside this package: the
// gaps that made us write our own parser (asserted as a8m's actual output, so
// an upgrade that fixes one shows up here), and a differential check that on
// the flat forms a8m gets right, we give the same text.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/a8m/envsubst/parse"
)

var a8mEnv = []string{"SET=val", "EMPTY="}

func a8m(t *testing.T, s string, r *parse.Restrictions) (string, error) {
	t.Helper()
	return parse.New("gap", a8mEnv, r).Parse(s)
}

func ours(t *testing.T, s string) (string, error) {
	t.Helper()
	tpl, err := Parse(s)
	if err != nil {
		return "", err
	}
	out, _, errs := tpl.Render(Map{Vars: map[string]string{"SET": "val", "EMPTY": ""}}, Options{})
	if len(errs) > 0 {
		return out, errs[0]
	}
	return out, nil
}

func TestEnvsubstGaps(t *testing.T) {
	gaps := []struct {
		what, in string
		a8mOut   string // what a8m gives (Relaxed), nil error
		oursOut  string // what we give; "" with oursErr
		oursErr  bool
	}{
		{"${V:?msg} silently gives empty", "${NOPE:?msg}", "", "", true},
		{"nested default, outer set", "${SET:-${NOPE:-x}}", "val}", "val", false},
		{"nested default, outer unset", "${NOPE:-${SET:-x}}", "x}", "val", false},
		{"\\${ is no escape", `\${SET}`, `\val`, "${SET}", false},
		{"\\$V is no escape", `\$SET`, `\val`, `\$SET`, false},
		{"bare $V is always substituted", "$SET", "val", "$SET", false},
		{"$$ is collapsed", "$$SET", "$SET", "$$SET", false},
		{"unset ${V} silently gives empty (Relaxed)", "a\n${NOPE}", "a\n", "", true},
	}
	for _, g := range gaps {
		t.Run(g.what, func(t *testing.T) {
			got, err := a8m(t, g.in, parse.Relaxed)
			if err != nil || got != g.a8mOut {
				t.Errorf("a8m %q = %q, %v; measured %q, <nil> (did an upgrade change it?)", g.in, got, err, g.a8mOut)
			}
			out, err := ours(t, g.in)
			if (err != nil) != g.oursErr || (!g.oursErr && out != g.oursOut) {
				t.Errorf("ours %q = %q, %v; want %q (error %v)", g.in, out, err, g.oursOut, g.oursErr)
			}
		})
	}

	// NoUnset reports a missing variable without a position, and counts an
	// empty default as no default.
	if _, err := a8m(t, "a\n${NOPE}", parse.NoUnset); err == nil || err.Error() != "variable ${NOPE} not set" {
		t.Errorf("a8m NoUnset error = %v; measured %q", err, "variable ${NOPE} not set")
	}
	if _, err := a8m(t, "${NOPE:-}", parse.NoUnset); err == nil {
		t.Errorf("a8m NoUnset ${NOPE:-} gave no error; measured one")
	}
}

// On ${V}, ${V:-d} and ${V-d} with literal defaults and no other $ or \ in
// the text, a8m is right, and we must agree with it.
func TestAgreesWithEnvsubstOnFlatForms(t *testing.T) {
	defaults := []string{"d", "", "a b:c", "http://localhost:9200/x?y=1", "-", ":-", "?"}
	n := 0
	for _, name := range []string{"SET", "EMPTY", "NOPE"} {
		for _, op := range []string{"", ":-", "-"} {
			for _, d := range defaults {
				if op == "" && (d != "d" || name == "NOPE") {
					continue // no default; an unset ${V} is an error for us
				}
				if op == "" {
					d = ""
				}
				in := fmt.Sprintf("pre {x} ${%s%s%s} post\n", name, op, d)
				want, err := a8m(t, in, parse.Relaxed)
				if err != nil {
					t.Fatalf("a8m %q: %v", in, err)
				}
				got, err := ours(t, in)
				if err != nil || got != want {
					t.Errorf("%q: ours %q (%v), a8m %q", in, got, err, want)
				}
				n++
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d cases compared", n)
	}
}

// FuzzAgainstEnvsubst builds, from any input, a template of the flat forms
// a8m gets right (${V}, ${V:-d}, ${V-d} with literal defaults; no other $ or
// \) and checks that we render it exactly as a8m does.
func FuzzAgainstEnvsubst(f *testing.F) {
	f.Add([]byte("a\x00b\x01c\x02d"))
	f.Add([]byte("\x00\x04\x08\x0c\x10xyz"))
	const text = "abcXYZ019 {=.:/-_\n\t"
	const lit = "abz09 :/.-_"
	names := []string{"SET", "EMPTY", "NOPE"}
	ops := []string{"}", ":-", "-"}
	f.Fuzz(func(t *testing.T, in []byte) {
		var b strings.Builder
		for i := 0; i < len(in); i++ {
			c := in[i]
			if c%4 != 0 {
				b.WriteByte(text[int(c)%len(text)])
				continue
			}
			name := names[int(c/4)%len(names)]
			op := ops[int(c/12)%len(ops)]
			if op == "}" && name == "NOPE" {
				name = "SET" // an unset ${V} is an error for us, "" for a8m
			}
			b.WriteString("${" + name + op)
			if op != "}" {
				for i+1 < len(in) && in[i+1]%4 != 0 && in[i+1]%7 != 0 {
					i++
					b.WriteByte(lit[int(in[i])%len(lit)])
				}
				b.WriteByte('}')
			}
		}
		s := b.String()
		type res struct {
			s   string
			err error
		}
		ch := make(chan res, 1)
		go func() { s, err := a8m(t, s, parse.Relaxed); ch <- res{s, err} }()
		var want string
		var err error
		select {
		case r := <-ch:
			want, err = r.s, r.err
		case <-time.After(3 * time.Second):
			t.Fatalf("a8m hangs on %q", s)
		}
		if err != nil {
			t.Fatalf("a8m %q: %v", s, err)
		}
		if got, err := ours(t, s); err != nil || got != want {
			t.Fatalf("%q: ours %q (%v), a8m %q", s, got, err, want)
		}
	})
}
