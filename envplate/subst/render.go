package subst

import (
	"fmt"
	"strings"
)

// Value is a variable's value and where it came from ("env", "etcd", ...),
// the latter for verbose output, which never shows the value itself.
type Value struct {
	S    string
	From string
}

// Lookup finds a variable. ok is false when it is unset; err is a failure to
// find out (an unreadable NAME_FILE), not an unset variable.
type Lookup interface {
	Lookup(name string) (v Value, ok bool, err error)
}

// LookupFunc adapts a function to Lookup.
type LookupFunc func(name string) (Value, bool, error)

// Lookup calls f.
func (f LookupFunc) Lookup(name string) (Value, bool, error) { return f(name) }

// Map is a Lookup over a fixed set of variables, for tests and for sources
// read once (etcd).
type Map struct {
	Vars map[string]string
	From string
}

// Lookup implements Lookup.
func (m Map) Lookup(name string) (Value, bool, error) {
	s, ok := m.Vars[name]
	return Value{S: s, From: m.From}, ok, nil
}

// RefError is a reference that could not be resolved: an unset variable, a
// ${V:?message}, a default or an empty value refused by strict mode, or a
// failing Lookup. It names the variable and never holds its value.
type RefError struct {
	Pos  Pos
	Name string
	Msg  string
	Err  error // the Lookup's error, if that is the cause
}

func (e *RefError) Error() string { return fmt.Sprintf("%s: %s %s", e.Pos, e.Name, e.Msg) }
func (e *RefError) Unwrap() error { return e.Err }

// Use records how one reference was resolved, for verbose output.
type Use struct {
	Name string
	From string // a Lookup's source, or "default"
}

// Options change how references resolve.
type Options struct {
	// Strict refuses defaults and empty values, as kreuzwerker's ep -s
	// refuses defaults: a template meant for production must get every
	// value from its environment.
	Strict bool
	// Encode, when set, converts each value a Lookup gave before it is
	// written (ep -c: the file's charset). Defaults are not converted: they
	// are the template's own text, already in its charset.
	Encode func(value string) (string, error)
}

// Render resolves every reference in t with env. It reports every failing
// reference, not only the first, so one run shows all that is missing.
func (t *Template) Render(env Lookup, opt Options) (string, []Use, []error) {
	r := &renderer{t: t, env: env, opt: opt}
	var b strings.Builder
	r.nodes(&b, t.nodes)
	return b.String(), r.uses, r.errs
}

type renderer struct {
	t    *Template
	env  Lookup
	opt  Options
	uses []Use
	errs []error
}

func (r *renderer) nodes(b *strings.Builder, nodes []node) {
	for _, n := range nodes {
		switch n := n.(type) {
		case textNode:
			b.WriteString(string(n))
		case *refNode:
			r.ref(b, n)
		}
	}
}

func (r *renderer) fail(n *refNode, err error, format string, args ...any) {
	r.errs = append(r.errs, &RefError{Pos: position(r.t.src, n.off), Name: n.name, Msg: fmt.Sprintf(format, args...), Err: err})
}

func (r *renderer) ref(b *strings.Builder, n *refNode) {
	v, ok, err := r.env.Lookup(n.name)
	if err != nil {
		r.fail(n, err, "cannot be read: %v", err)
		return
	}
	empty := ok && v.S == ""
	// Whether the variable's own value is used, as sh decides it.
	use := ok && !empty
	if empty && (n.op == OpNone || n.op == OpDefaultUnset || n.op == OpErrorUnset) {
		use = true
	}
	if use {
		if empty && r.opt.Strict {
			r.fail(n, nil, "is set but empty (strict mode refuses empty values)")
			return
		}
		s := v.S
		if r.opt.Encode != nil {
			if s, err = r.opt.Encode(s); err != nil {
				r.fail(n, err, "cannot be written: %v", err)
				return
			}
		}
		r.uses = append(r.uses, Use{Name: n.name, From: v.From})
		b.WriteString(s)
		return
	}
	state := "unset"
	if empty {
		state = "empty"
	}
	switch n.op {
	case OpNone:
		r.fail(n, nil, "is not set and the reference has no default")
	case OpError, OpErrorUnset:
		msg := n.raw
		if msg == "" {
			msg = "required"
		}
		r.fail(n, nil, "is %s: %s", state, msg)
	case OpDefault, OpDefaultUnset:
		if r.opt.Strict {
			r.fail(n, nil, "is %s (strict mode refuses the default)", state)
			return
		}
		r.uses = append(r.uses, Use{Name: n.name, From: "default"})
		r.nodes(b, n.word)
	}
}
