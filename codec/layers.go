package codec

import (
	"fmt"
	"strconv"
	"strings"
)

// Compression is a compression format, or None.
type Compression string

// The compressions codec writes and reads.
const (
	None Compression = "none"
	Zstd Compression = "zstd"
	Gzip Compression = "gzip"
)

// ParseCompression reads "zstd", "gzip" or "none" ("" is none).
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(strings.ToLower(strings.TrimSpace(s))); c {
	case "", None, "off", "false":
		return None, nil
	case Zstd, "zst":
		return Zstd, nil
	case Gzip, "gz":
		return Gzip, nil
	}
	return None, fmt.Errorf("%q: unknown compression (zstd, gzip or none)", s)
}

// CheckLevel says whether level suits c; 0 is always the default.
// zstd takes zstd's 1-22 (the Go encoder has four speeds: 1-2 fastest,
// 3-5 default, 6-9 better, 10-22 best), gzip 1-9.
func (c Compression) CheckLevel(level int) error {
	lo, hi := 0, 0
	switch c {
	case Zstd:
		lo, hi = 1, 22
	case Gzip:
		lo, hi = 1, 9
	default:
		if level != 0 {
			return fmt.Errorf("level %d: no compression to set it for", level)
		}
		return nil
	}
	if level != 0 && (level < lo || level > hi) {
		return fmt.Errorf("level %d: %s takes %d to %d", level, c, lo, hi)
	}
	return nil
}

// ParseLevel reads a compression level ("" or "0": the default) for c.
func ParseLevel(c Compression, s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q: not a number", s)
	}
	return n, c.CheckLevel(n)
}

// Suffix is the file-name suffix of c: ".zst", ".gz" or "".
func (c Compression) Suffix() string {
	switch c {
	case Zstd:
		return ".zst"
	case Gzip:
		return ".gz"
	}
	return ""
}

// Layers says how a stream was written: compressed with Compression,
// then encrypted with age when Encrypted. Recipients names the kinds of the
// age recipients (X25519, scrypt, ...) when they are known (from the stream's
// header).
type Layers struct {
	Compression Compression
	Encrypted   bool
	Recipients  []string
}

// Plain reports whether the stream is stored as it is.
func (l Layers) Plain() bool { return !l.Compressed() && !l.Encrypted }

// Compressed reports whether a compression layer is present.
func (l Layers) Compressed() bool { return l.Compression != "" && l.Compression != None }

// String is "none", "zstd", "age", "zstd+age", ...
func (l Layers) String() string {
	var p []string
	if l.Compressed() {
		p = append(p, string(l.Compression))
	}
	if l.Encrypted {
		p = append(p, "age")
	}
	if len(p) == 0 {
		return "none"
	}
	return strings.Join(p, "+")
}

// SuffixAge is the file-name suffix of an age-encrypted stream.
const SuffixAge = ".age"

// Suffix is what a name gets for these layers, after its own extension:
// ".zst", ".gz", ".age", ".zst.age", ".gz.age" or "".
func (l Layers) Suffix() string {
	s := ""
	if l.Compressed() {
		s = l.Compression.Suffix()
	}
	if l.Encrypted {
		s += SuffixAge
	}
	return s
}

// SplitName strips the layers' suffixes from a name: "x.db.zst.age" gives
// "x.db" and zstd+age.
func SplitName(name string) (string, Layers) {
	l := Layers{Compression: None}
	if b, ok := strings.CutSuffix(name, SuffixAge); ok {
		name, l.Encrypted = b, true
	}
	for _, c := range []Compression{Zstd, Gzip} {
		if b, ok := strings.CutSuffix(name, c.Suffix()); ok {
			name, l.Compression = b, c
			break
		}
	}
	return name, l
}

// Metadata keys (S3 user metadata, lower case, without x-amz-meta-) that say
// how an object was written. Absent keys mean "not compressed", "not
// encrypted": objects written before these layers existed read as before.
const (
	MetaCompression = "cronbox-compression" // zstd or gzip
	MetaEncryption  = "cronbox-encryption"  // age
	MetaRecipients  = "cronbox-age-recipients"
)

// Metadata is what an object written with these layers records.
func (l Layers) Metadata() map[string]string {
	m := map[string]string{}
	if l.Compressed() {
		m[MetaCompression] = string(l.Compression)
	}
	if l.Encrypted {
		m[MetaEncryption] = "age"
		if len(l.Recipients) > 0 {
			m[MetaRecipients] = strings.Join(l.Recipients, ",")
		}
	}
	return m
}

// FromMetadata reads the layers an object's metadata records; ok is false
// when the metadata says nothing either way (an object from another tool).
// An unknown value is an error: this reader would not undo it.
func FromMetadata(m map[string]string) (l Layers, ok bool, err error) {
	l.Compression = None
	c, hasC := m[MetaCompression]
	e, hasE := m[MetaEncryption]
	if hasC {
		if l.Compression, err = ParseCompression(c); err != nil {
			return l, true, fmt.Errorf("metadata %s: %w", MetaCompression, err)
		}
	}
	if hasE {
		if e != "age" {
			return l, true, fmt.Errorf("metadata %s=%q: unknown encryption (this version reads age)", MetaEncryption, e)
		}
		l.Encrypted = true
		if r := m[MetaRecipients]; r != "" {
			l.Recipients = strings.Split(r, ",")
		}
	}
	return l, hasC || hasE, nil
}

// ContentType is the Content-Type of a stream of type plain stored with
// these layers: the outermost layer's type. (Content-Encoding is never set:
// HTTP clients would undo a gzip layer behind the reader's back.)
func (l Layers) ContentType(plain string) string {
	switch {
	case l.Encrypted:
		return "application/octet-stream"
	case l.Compression == Zstd:
		return "application/zstd"
	case l.Compression == Gzip:
		return "application/gzip"
	}
	return plain
}
