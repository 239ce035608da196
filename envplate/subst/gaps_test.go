package subst

// These tests measure github.com/a8m/envsubst v1.4.3 beside this package: the
// gaps that made us write our own parser (asserted as a8m's actual output, so
// an upgrade that fixes one shows up here), and a differential check that on
// the flat forms a8m gets right, we give the same text.

import (
	"bytes"
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

// a8m is the reference, not the subject, so its calls are bounded. Its
// parser appends a default's text one character at a time (quadratic: 0.45 s
// for a 50 KB default, 7 s for 200 KB, measured here) and its lexer hands
// each token over a channel from a goroutine that cannot be stopped. A slow
// reference stalls the fuzzer twice over: the input itself, then the
// minimisation of every new interesting input, which runs the target
// O(n²) times (a 305-byte input took 5.6 s to minimise, the fuzzer at 0
// execs/s meanwhile). So a template longer than a8mMaxTemplate is not given
// to a8m at all, a call that takes longer than a8mDeadline is given up on,
// and either way the input is discarded (skipped): the fuzzer keeps
// fuzzing, and no slow input becomes a "failure" or a corpus entry.
const (
	a8mMaxTemplate = 1 << 10 // a8m answers in well under a millisecond
	a8mDeadline    = time.Second
)

// a8mBounded is a8m (Relaxed) on s, or ok == false when it did not answer
// within the deadline. The goroutine of a call given up on runs on until
// a8m returns.
func a8mBounded(s string, deadline time.Duration) (out string, ok bool, err error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := parse.New("fuzz", a8mEnv, parse.Relaxed).Parse(s)
		ch <- res{s, err}
	}()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.s, true, r.err
	case <-timer.C:
		return "", false, nil
	}
}

// flatTemplate builds, from any bytes, a template of the flat forms a8m
// gets right: ${V}, ${V:-d}, ${V-d} with literal defaults, no other $ or \.
func flatTemplate(in []byte) string {
	const text = "abcXYZ019 {=.:/-_\n\t"
	const lit = "abz09 :/.-_"
	names := []string{"SET", "EMPTY", "NOPE"}
	ops := []string{"}", ":-", "-"}
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
	return b.String()
}

// sameAsA8m renders flatTemplate(in) with a8m and with ours and requires
// the same text; an input a8m would be slow on is skipped.
func sameAsA8m(t *testing.T, in []byte) {
	s := flatTemplate(in)
	if len(s) > a8mMaxTemplate {
		t.Skipf("template of %d bytes: longer than a8m answers quickly (%d); discarded", len(s), a8mMaxTemplate)
	}
	want, ok, err := a8mBounded(s, a8mDeadline)
	if !ok {
		t.Skipf("a8m gave no answer within %v on %d bytes; discarded", a8mDeadline, len(s))
	}
	if err != nil {
		t.Fatalf("a8m %q: %v", s, err)
	}
	if got, err := ours(t, s); err != nil || got != want {
		t.Fatalf("%q: ours %q (%v), a8m %q", s, got, err, want)
	}
}

// FuzzAgainstEnvsubst checks, for any input, that we render its flat
// template exactly as a8m does.
func FuzzAgainstEnvsubst(f *testing.F) {
	f.Add([]byte("a\x00b\x01c\x02d"))
	f.Add([]byte("\x00\x04\x08\x0c\x10xyz"))
	f.Fuzz(sameAsA8m)
}

// An input a8m takes seconds on (a 200 KB default) is discarded at once,
// not waited for: before the bound, the fuzz target waited 3 s on it and
// then failed with "a8m hangs". (Not a seed of the fuzz target: the
// fuzzer would mutate and minimise 200 KB inputs.)
func TestA8mReferenceIsBounded(t *testing.T) {
	big := append([]byte{0x18}, bytes.Repeat([]byte("a"), 200<<10)...) // "${SET-" + 200 KB + "}"
	var skipped bool
	t.Run("200KB default", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		sameAsA8m(t, big)
	})
	if !skipped {
		t.Errorf("the 200 KB template was not discarded")
	}
	// Small templates are still compared.
	t.Run("small", func(t *testing.T) { sameAsA8m(t, []byte("\x18ab\x00c")) })
}
