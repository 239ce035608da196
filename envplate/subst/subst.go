// Package subst parses and renders ep's templates: text with ${NAME}
// references (and the :- - :? ? operators, nested), where a bare $NAME is
// left alone and \${ is a literal ${.
//
// It exists because github.com/a8m/envsubst v1.4.3, the library the issue
// named, cannot be reused for this mode: it always substitutes bare $NAME,
// has no position information, gives "" for ${V:?msg}, breaks on nested
// defaults and has no escape for ${ (see gaps_test.go, which measures each
// gap). Its lexer and parser are unexported, so there is no seam to extend;
// what we take from it is its semantics for the flat forms it gets right,
// checked by a differential test against it.
//
// The grammar, precisely:
//
//	template  = { text | escape | reference }
//	reference = "${" name ( "}" | op word "}" )
//	name      = [A-Za-z_][A-Za-z0-9_]*
//	op        = ":-" | "-" | ":?" | "?"
//	word      = { text | escape | reference }   (ends at the first unescaped "}")
//
// A run of n backslashes just before "${" (or, inside a word, before "}")
// stands for n/2 backslashes; when n is odd the "${" (or "}") that follows is
// literal. Backslashes anywhere else are ordinary text. This is the rule of
// kreuzwerker's ep, so its templates keep their meaning.
package subst

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Op is what a reference does when its variable is unset or empty.
type Op int

// The operators, with POSIX sh's meaning.
const (
	OpNone         Op = iota // ${V}: V must be set
	OpDefault                // ${V:-w}: w when V is unset or empty
	OpDefaultUnset           // ${V-w}: w when V is unset
	OpError                  // ${V:?m}: fail with m when V is unset or empty
	OpErrorUnset             // ${V?m}: fail with m when V is unset
)

// Pos is a 1-based line and column (in characters) in the template's text.
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

type node interface{ isNode() }

type textNode string

type refNode struct {
	off  int // byte offset of "${"
	name string
	op   Op
	word []node
	raw  string // the word's source text, the message of :? and ?
}

func (textNode) isNode() {}
func (*refNode) isNode() {}

// Template is a parsed text.
type Template struct {
	src   string
	nodes []node
}

// SyntaxError is a template that cannot be parsed.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string { return e.Pos.String() + ": " + e.Msg }

type parser struct {
	src string
	i   int
}

// Parse parses src. The error, if any, is a *SyntaxError.
func Parse(src string) (*Template, error) {
	p := &parser{src: src}
	nodes, err := p.seq(-1)
	if err != nil {
		return nil, err
	}
	return &Template{src: src, nodes: nodes}, nil
}

// seq parses text and references up to the end of src (ref < 0) or, inside
// the word of the reference starting at byte ref, up to its closing "}".
func (p *parser) seq(ref int) ([]node, error) {
	inWord := ref >= 0
	var nodes []node
	var buf strings.Builder
	flush := func() {
		if buf.Len() > 0 {
			nodes = append(nodes, textNode(buf.String()))
			buf.Reset()
		}
	}
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case c == '\\':
			j := p.i
			for j < len(p.src) && p.src[j] == '\\' {
				j++
			}
			n := j - p.i
			rest := p.src[j:]
			switch {
			case strings.HasPrefix(rest, "${"):
				buf.WriteString(p.src[p.i : p.i+n/2])
				if n%2 == 1 {
					buf.WriteString("${")
					p.i = j + 2
				} else {
					p.i = j
				}
			case inWord && strings.HasPrefix(rest, "}"):
				buf.WriteString(p.src[p.i : p.i+n/2])
				if n%2 == 1 {
					buf.WriteByte('}')
					p.i = j + 1
				} else {
					p.i = j
				}
			default:
				buf.WriteString(p.src[p.i:j])
				p.i = j
			}
		case c == '$' && strings.HasPrefix(p.src[p.i:], "${"):
			flush()
			r, err := p.reference()
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, r)
		case c == '}' && inWord:
			flush()
			p.i++
			return nodes, nil
		default:
			buf.WriteByte(c)
			p.i++
		}
	}
	if inWord {
		return nil, p.errorf(ref, "unterminated reference %s: no closing }", p.excerpt(ref))
	}
	flush()
	return nodes, nil
}

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isNameByte(c byte) bool  { return isNameStart(c) || '0' <= c && c <= '9' }

// reference parses "${...}" at p.i.
func (p *parser) reference() (*refNode, error) {
	start := p.i
	p.i += 2
	j := p.i
	if j < len(p.src) && isNameStart(p.src[j]) {
		for j < len(p.src) && isNameByte(p.src[j]) {
			j++
		}
	}
	if j == p.i {
		return nil, p.errorf(start, "%s: ${ must be followed by a variable name (write \\${ for a literal ${)", p.excerpt(start))
	}
	r := &refNode{off: start, name: p.src[p.i:j]}
	p.i = j
	rest := p.src[p.i:]
	switch {
	case rest == "":
		return nil, p.errorf(start, "unterminated reference %s: no closing }", p.excerpt(start))
	case rest[0] == '}':
		p.i++
		return r, nil
	case strings.HasPrefix(rest, ":-"):
		r.op, p.i = OpDefault, p.i+2
	case strings.HasPrefix(rest, ":?"):
		r.op, p.i = OpError, p.i+2
	case rest[0] == '-':
		r.op, p.i = OpDefaultUnset, p.i+1
	case rest[0] == '?':
		r.op, p.i = OpErrorUnset, p.i+1
	default:
		return nil, p.errorf(start, "%s: only }, :-, -, :? and ? may follow ${%s", p.excerpt(start), r.name)
	}
	wordStart := p.i
	word, err := p.seq(start)
	if err != nil {
		return nil, err
	}
	r.word, r.raw = word, p.src[wordStart:p.i-1]
	return r, nil
}

// excerpt quotes the source from off, cut short, for error messages. It
// shows template text, never a value.
func (p *parser) excerpt(off int) string {
	s := p.src[off:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 24 {
		s = s[:24]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return fmt.Sprintf("%q", s)
}

func (p *parser) errorf(off int, format string, args ...any) error {
	return &SyntaxError{Pos: position(p.src, off), Msg: fmt.Sprintf(format, args...)}
}

// position turns a byte offset into a line and a column counted in
// characters (a tab is one), as editors report them.
func position(src string, off int) Pos {
	before := src[:off]
	line := strings.Count(before, "\n") + 1
	lineStart := strings.LastIndexByte(before, '\n') + 1
	return Pos{Line: line, Col: utf8.RuneCountInString(before[lineStart:]) + 1}
}

// Escape returns text that renders back to s: every "${" in s, with the run
// of n backslashes before it, gets n+1 more backslashes.
func Escape(s string) string {
	var b strings.Builder
	run := 0 // backslashes just written
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "${") {
			b.WriteString(strings.Repeat(`\`, run+1))
		}
		if s[i] == '\\' {
			run++
		} else {
			run = 0
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
