// Package charset writes ep's values in a file's charset: kreuzwerker's
// `ep -c NAME` encodes each substituted value, which comes from the
// environment as UTF-8, into NAME (ISO-8859-1 for a Java .properties file,
// say). Only single-byte charsets are offered (x/text's charmap tables, a
// few KB each, plus UTF-8 and US-ASCII): a template is scanned for "${" as
// bytes, which a multi-byte charset such as UTF-16 or Shift_JIS breaks.
package charset

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Encoder writes UTF-8 text in one charset.
type Encoder struct {
	name string
	// rune maps one character; ok is false when the charset lacks it.
	rune func(r rune) (b []byte, ok bool)
}

// Name is the charset's canonical name.
func (e Encoder) Name() string { return e.name }

// Encode converts s, which must be UTF-8. A character the charset cannot
// write is an error that gives its byte offset in s, never the character
// (values may be secrets).
func (e Encoder) Encode(s string) (string, error) {
	var b strings.Builder
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return "", fmt.Errorf("the value is not UTF-8 (byte %d), so it cannot be converted to %s", i, e.name)
			}
		}
		out, ok := e.rune(r)
		if !ok {
			return "", fmt.Errorf("the value has a character that %s cannot write (at byte %d)", e.name, i)
		}
		b.Write(out)
	}
	return b.String(), nil
}

// aliases are the other names kreuzwerker's ep (go-charset) took, mapped to
// the name normalize gives x/text's charmap.
var aliases = map[string]string{
	"latin1": "iso88591", "l1": "iso88591", "latin2": "iso88592", "l2": "iso88592",
	"latin9": "iso885915", "ascii": "usascii",
}

// normalize lowers a name and drops separators: "ISO-8859-1", "iso8859_1"
// and "ISO 8859-1" all become "iso88591".
func normalize(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ', '.':
			return -1
		}
		return r
	}, strings.ToLower(name))
}

// matches reports whether the normalized name n names the charmap called
// canonical; a code page also answers to cpN and ibmN ("IBM Code Page 437":
// cp437, ibm437; "Windows 1252": cp1252).
func matches(canonical, n string) bool {
	c := normalize(canonical)
	if c == n {
		return true
	}
	for _, p := range []string{"ibmcodepage", "windowscodepage", "windows"} {
		if num, ok := strings.CutPrefix(c, p); ok && (n == "cp"+num || n == "ibm"+num) {
			return true
		}
	}
	return false
}

// Lookup finds a charset by name (case and separators do not matter).
func Lookup(name string) (Encoder, error) {
	n := normalize(name)
	if a, ok := aliases[n]; ok {
		n = a
	}
	switch n {
	case "utf8":
		return Encoder{name: "UTF-8", rune: func(r rune) ([]byte, bool) { return utf8.AppendRune(nil, r), true }}, nil
	case "usascii":
		return Encoder{name: "US-ASCII", rune: func(r rune) ([]byte, bool) { return []byte{byte(r)}, r < utf8.RuneSelf }}, nil
	}
	for _, cm := range singleByte() {
		if !matches(cm.String(), n) {
			continue
		}
		return Encoder{name: cm.String(), rune: func(r rune) ([]byte, bool) {
			b, ok := cm.EncodeRune(r)
			return []byte{b}, ok
		}}, nil
	}
	return Encoder{}, fmt.Errorf("charset %q is not supported: ep writes UTF-8, US-ASCII or a single-byte charset (%s)", name, strings.Join(Names(), ", "))
}

// Names lists the supported charsets' canonical names.
func Names() []string {
	names := []string{"UTF-8", "US-ASCII"}
	for _, cm := range singleByte() {
		names = append(names, cm.String())
	}
	return names
}

// singleByte lists x/text's charmaps that keep ASCII where it is (so "${"
// is still "${"): every one but the EBCDIC code pages.
func singleByte() []*charmap.Charmap {
	var out []*charmap.Charmap
	for _, enc := range charmap.All {
		cm, ok := enc.(*charmap.Charmap)
		if !ok {
			continue
		}
		if r := cm.DecodeByte('$'); r != '$' {
			continue
		}
		if b, ok := cm.EncodeRune('{'); !ok || b != '{' {
			continue
		}
		out = append(out, cm)
	}
	return out
}
