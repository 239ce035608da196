package subst

import (
	"errors"
	"strings"
	"testing"
)

var testEnv = Map{From: "env", Vars: map[string]string{
	"SET":    "val",
	"EMPTY":  "",
	"URL":    "http://es:9200",
	"MULTI":  "line1\nline2",
	"DOLLAR": "$HOME ${SET} \\${x}", // values are never expanded again
	"B":      "bee",
}}

func render(t *testing.T, src string, opt Options) (string, []error) {
	t.Helper()
	tpl, err := Parse(src)
	if err != nil {
		return "", []error{err}
	}
	out, _, errs := tpl.Render(testEnv, opt)
	return out, errs
}

func TestRender(t *testing.T) {
	cases := []struct {
		name, in, want string
		strict         bool
	}{
		{"plain text", "no references here", "no references here", false},
		{"empty text", "", "", false},
		{"one reference", "host=${URL}", "host=http://es:9200", false},
		{"adjacent", "${SET}${B}", "valbee", false},
		{"bare $VAR left alone", "echo $SET $$ $1 ${SET}", "echo $SET $$ $1 val", false},
		{"lone dollar and braces", "cost: 5$ {x} $ { }", "cost: 5$ {x} $ { }", false},
		{"$${ is a dollar then a reference", "$${SET}", "$val", false},
		{"set but empty, no default", "[${EMPTY}]", "[]", false},
		{":- on set", "${SET:-d}", "val", false},
		{":- on empty", "${EMPTY:-d}", "d", false},
		{":- on unset", "${NOPE:-d}", "d", false},
		{"- on empty keeps empty", "[${EMPTY-d}]", "[]", false},
		{"- on unset", "${NOPE-d}", "d", false},
		{"empty default", "[${NOPE:-}]", "[]", false},
		{"default with spaces and colons", "${NOPE:-a b:c=d}", "a b:c=d", false},
		{"default with a url", "${NOPE:-http://localhost:9200/x?y=1}", "http://localhost:9200/x?y=1", false},
		{"default with bare $", "${NOPE:-$HOME}", "$HOME", false},
		{":? on set", "${SET:?need it}", "val", false},
		{"? on empty keeps empty", "[${EMPTY?need it}]", "[]", false},
		{"nested, outer set", "${SET:-${NOPE:-x}}", "val", false},
		{"nested, outer unset", "${NOPE:-${B:-x}}", "bee", false},
		{"nested twice", "${NOPE:-${NADA:-${SET}}}", "val", false},
		{"nested, inner default", "${NOPE:-${NADA:-x}}", "x", false},
		{"nested with text around", "${NOPE:-a-${B}-z}!", "a-bee-z!", false},
		{"unused default may reference an unset variable", "${SET:-${NOPE}}", "val", false},
		{"escape", `\${SET}`, "${SET}", false},
		{"escape, two backslashes", `\\${SET}`, `\val`, false},
		{"escape, three backslashes", `\\\${SET}`, `\${SET}`, false},
		{"escape, four backslashes", `\\\\${SET}`, `\\val`, false},
		{"backslashes elsewhere are text", `a\b\\c\$SET\{x}\`, `a\b\\c\$SET\{x}\`, false},
		{"escaped unterminated is text", `\${`, "${", false},
		{"escape inside default", `${NOPE:-\${x\}}`, "${x}", false},
		{"escaped brace in default", `${NOPE:-{"a":1\}}`, `{"a":1}`, false},
		{"default ends at first brace", `${NOPE:-{"a":1}}`, `{"a":1}`, false},
		{"value is not expanded again", "${DOLLAR}", "$HOME ${SET} \\${x}", false},
		{"multiline value", "a=${MULTI}\n", "a=line1\nline2\n", false},
		{"multiline file", "#!/bin/sh\nset -eu\nurl=\"${URL}\"\nfor f in $@; do\n  echo \"$f ${SET:-x}\"\ndone\n", "#!/bin/sh\nset -eu\nurl=\"http://es:9200\"\nfor f in $@; do\n  echo \"$f val\"\ndone\n", false},
		{"reference across lines in a default", "${NOPE:-a\nb}", "a\nb", false},
		{"CRLF kept", "a=${SET}\r\nb=1\r\n", "a=val\r\nb=1\r\n", false},
		{"unicode around", "ü=${SET}€", "ü=val€", false},
		{"underscore and digits in names", "${_X1:-d}", "d", false},
		{"strict allows set values", "${SET} ${SET:-d} ${SET:?m}", "val val val", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, errs := render(t, c.in, Options{Strict: c.strict})
			if len(errs) > 0 {
				t.Fatalf("render %q: %v", c.in, errs)
			}
			if got != c.want {
				t.Fatalf("render %q = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	cases := []struct {
		name, in string
		strict   bool
		want     []string // each error's text, in order
	}{
		{"unset", "a\n  b=${NOPE}", false, []string{"2:5: NOPE is not set and the reference has no default"}},
		{"column counts characters", "ü€=${NOPE}", false, []string{"1:4: NOPE is not set"}},
		{"every missing variable", "${A}\n${SET}\n${B}${C}", false, []string{"1:1: A is not", "3:5: C is not"}},
		{":? message", "${NOPE:?set ES_HOST_URL to the cluster}", false, []string{"1:1: NOPE is unset: set ES_HOST_URL to the cluster"}},
		{":? on empty", "${EMPTY:?needed}", false, []string{"1:1: EMPTY is empty: needed"}},
		{"? on unset", "${NOPE?}", false, []string{"1:1: NOPE is unset: required"}},
		{"nested missing", "x ${NOPE:-${NADA}}", false, []string{"1:11: NADA is not set"}},
		{"strict refuses :- default", "${NOPE:-d}", true, []string{"1:1: NOPE is unset (strict mode refuses the default)"}},
		{"strict refuses - default", "${NOPE-d}", true, []string{"1:1: NOPE is unset (strict mode"}},
		{"strict refuses empty", "${EMPTY}", true, []string{"1:1: EMPTY is set but empty"}},
		{"strict refuses default for empty", "${EMPTY:-d}", true, []string{"1:1: EMPTY is empty (strict mode refuses the default)"}},
		{"syntax: unterminated", "a\nb ${SET", false, []string{`2:3: unterminated reference "${SET"`}},
		{"syntax: unterminated default", "${A:-${B:-x}", false, []string{`1:1: unterminated reference`}},
		{"syntax: no name", "x ${}", false, []string{`1:3: "${}": ${ must be followed by a variable name`}},
		{"syntax: shell length", "${#x}", false, []string{`must be followed by a variable name`}},
		{"syntax: digit first", "${1}", false, []string{`must be followed by a variable name`}},
		{"syntax: unsupported op", "${A%%.*}", false, []string{`only }, :-, -, :? and ? may follow ${A`}},
		{"syntax: := is refused", "${A:=x}", false, []string{`only }, :-, -, :? and ? may follow ${A`}},
		{"syntax: space in name", "${A B}", false, []string{`may follow ${A`}},
		{"syntax: nested error position", "${A:-\n  ${%}}", false, []string{`2:3: "${%}}"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := render(t, c.in, Options{Strict: c.strict})
			if len(errs) != len(c.want) {
				t.Fatalf("render %q: %d errors %v, want %d", c.in, len(errs), errs, len(c.want))
			}
			for i, err := range errs {
				if !strings.Contains(err.Error(), c.want[i]) {
					t.Errorf("error %d = %q, want it to contain %q", i, err, c.want[i])
				}
			}
		})
	}
}

func TestErrorsCarryNameNotValue(t *testing.T) {
	env := Map{From: "env", Vars: map[string]string{"SECRET": ""}}
	tpl, err := Parse("${SECRET} ${MISSING:?the password is hunter2-like}")
	if err != nil {
		t.Fatal(err)
	}
	_, _, errs := tpl.Render(env, Options{Strict: true})
	if len(errs) != 2 {
		t.Fatalf("errors %v, want 2", errs)
	}
	var re *RefError
	if !errors.As(errs[0], &re) || re.Name != "SECRET" || re.Pos != (Pos{1, 1}) {
		t.Fatalf("first error %#v, want a RefError for SECRET at 1:1", errs[0])
	}
}

func TestLookupErrorIsReported(t *testing.T) {
	boom := errors.New("permission denied")
	env := LookupFunc(func(string) (Value, bool, error) { return Value{}, false, boom })
	tpl, _ := Parse("x${PW}")
	_, _, errs := tpl.Render(env, Options{})
	if len(errs) != 1 || !errors.Is(errs[0], boom) || !strings.HasPrefix(errs[0].Error(), "1:2: PW cannot be read") {
		t.Fatalf("errors %v, want one wrapping %v at 1:2", errs, boom)
	}
}

func TestUses(t *testing.T) {
	tpl, _ := Parse("${SET} ${NOPE:-${B}} ${SET:-${NADA}}")
	_, uses, errs := tpl.Render(testEnv, Options{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []Use{{"SET", "env"}, {"NOPE", "default"}, {"B", "env"}, {"SET", "env"}}
	if len(uses) != len(want) {
		t.Fatalf("uses %v, want %v", uses, want)
	}
	for i := range want {
		if uses[i] != want[i] {
			t.Fatalf("uses %v, want %v", uses, want)
		}
	}
}

func TestEscape(t *testing.T) {
	cases := map[string]string{
		"":                "",
		"plain $x {y}":    "plain $x {y}",
		"${A}":            `\${A}`,
		`\${A}`:           `\\\${A}`,
		`\\${A}`:          `\\\\\${A}`,
		"a ${B:-${C}} \\": `a \${B:-\${C}} \`,
		`$${`:             `$\${`,
	}
	for in, want := range cases {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		tpl, err := Parse(Escape(in))
		if err != nil {
			t.Fatalf("Parse(Escape(%q)): %v", in, err)
		}
		if out, _, errs := tpl.Render(Map{}, Options{Strict: true}); len(errs) > 0 || out != in {
			t.Errorf("Render(Escape(%q)) = %q, %v", in, out, errs)
		}
	}
}
