package charset

import (
	"strings"
	"testing"
)

// The bytes kreuzwerker's ep (v1.0.3-14-gec00ede, built from its repository beside ours)
// wrote for `ep -c NAME` with each value: ours must write the same.
func TestSameBytesAsKreuzwerker(t *testing.T) {
	for _, c := range []struct{ names, value, want string }{
		{"iso-8859-1 ISO-8859-1 ISO8859-1 iso8859-1 latin1 l1", "é", "\xe9"},
		{"windows-1252 cp1252", "€", "\x80"},
		{"koi8-r KOI8-R", "Ж", "\xf6"},
		{"utf-8 UTF8", "é€", "é€"},
		{"us-ascii", "plain", "plain"},
		{"iso-8859-15 latin9", "€", "\xa4"},
	} {
		for _, name := range strings.Fields(c.names) {
			enc, err := Lookup(name)
			if err != nil {
				t.Errorf("Lookup(%q): %v", name, err)
				continue
			}
			if got, err := enc.Encode(c.value); err != nil || got != c.want {
				t.Errorf("%s: Encode(%q) = %q, %v; want %q", name, c.value, got, err, c.want)
			}
		}
	}
}

// Where kreuzwerker's ep wrote "?" silently (€ in ISO-8859-1, é in
// US-ASCII gave "??"), ours refuses, naming the offset and never the
// character; charsets it failed on (shift_jis: exit 1; utf-16: a nil
// pointer panic) are refused by name.
func TestRefusesWhatItCannotWrite(t *testing.T) {
	for _, c := range []struct{ name, value string }{
		{"iso-8859-1", "x€"}, {"us-ascii", "é"}, {"koi8-r", "é"}, {"latin1", "bad \xff utf-8"},
	} {
		enc, err := Lookup(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := enc.Encode(c.value); err == nil || strings.ContainsAny(err.Error(), "€é\xff") || !strings.Contains(err.Error(), "byte") {
			t.Errorf("%s: Encode(%q) = %q, %v; want an error with the offset and without the character", c.name, c.value, got, err)
		}
	}
	for _, name := range []string{"shift_jis", "utf-16", "ebcdic-cp-us", "ibm037", ""} {
		if _, err := Lookup(name); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("Lookup(%q) = %v; want not supported", name, err)
		}
	}
}

// Every offered charset keeps "${", "}", "\" and newlines as they are, so
// templates in it parse as in ASCII.
func TestOfferedCharsetsKeepTheSyntax(t *testing.T) {
	names := Names()
	if len(names) < 30 {
		t.Fatalf("only %d charsets: %v", len(names), names)
	}
	for _, name := range names {
		enc, err := Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q) of a listed name: %v", name, err)
		}
		if got, err := enc.Encode("${A:-\\}}\n"); err != nil || got != "${A:-\\}}\n" {
			t.Errorf("%s changes the syntax characters: %q, %v", name, got, err)
		}
	}
}
