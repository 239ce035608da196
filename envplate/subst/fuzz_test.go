package subst

import (
	"errors"
	"strings"
	"testing"
)

// FuzzTemplate checks, for any text: parsing and rendering never panic;
// errors are the documented types with positions inside the text; a text
// with no "${" renders to itself; and Escape then Render gives the text back.
// Its seed corpus is testdata/fuzz/FuzzTemplate; `make fuzz` runs it for a
// bounded time.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "${SET}", `\${A}`, "${A:-${B:-x}}", "$$ $A {}"} {
		f.Add(s)
	}
	env := Map{From: "env", Vars: map[string]string{"SET": "val", "EMPTY": "", "D": "${SET}"}}
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Count(s, "\n") + 1
		inside := func(p Pos) bool { return p.Line >= 1 && p.Line <= lines && p.Col >= 1 && p.Col <= len(s)+1 }

		tpl, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || !inside(se.Pos) {
				t.Fatalf("Parse(%q): error %v is not a SyntaxError inside the text", s, err)
			}
			if !strings.Contains(s, "${") {
				t.Fatalf("Parse(%q) failed without any ${: %v", s, err)
			}
		} else {
			for _, strict := range []bool{false, true} {
				out, _, errs := tpl.Render(env, Options{Strict: strict})
				for _, err := range errs {
					var re *RefError
					if !errors.As(err, &re) || !inside(re.Pos) {
						t.Fatalf("Render(%q): error %v is not a RefError inside the text", s, err)
					}
				}
				if !strings.Contains(s, "${") && (out != s || len(errs) > 0) {
					t.Fatalf("Render(%q) = %q, %v; a text without ${ must stay as it is", s, out, errs)
				}
			}
		}

		esc := Escape(s)
		tpl, err = Parse(esc)
		if err != nil {
			t.Fatalf("Parse(Escape(%q)) = %v", s, err)
		}
		out, uses, errs := tpl.Render(env, Options{Strict: true})
		if out != s || len(errs) > 0 || len(uses) > 0 {
			t.Fatalf("Render(Escape(%q)) = %q, %v, %v; want the text back, no references", s, out, errs, uses)
		}
	})
}
