package backup

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"cronbox/codec"
)

// This file is the one place that names backup objects and reads the names
// back: PREFIX + sortable UTC time + ".db", then the codec's ".zst"/".gz"
// and ".age" (compressed, then encrypted, in that order).

// timeLayout sorts lexically in time order (UTC, fixed width, milliseconds
// so that two saves in one second do not collide).
const timeLayout = "20060102T150405.000Z"

// BackupName is the object name (relative to its prefix) of a snapshot
// taken at t and stored with layers l.
func BackupName(t time.Time, l codec.Layers) string {
	return t.UTC().Format(timeLayout) + ".db" + l.Suffix()
}

// nameRE matches BackupName's base, the "etcd-" names of earlier versions
// and the shorter name the image's job script gave (20261127T030405Z.db).
var nameRE = regexp.MustCompile(`^(?:etcd-)?(\d{8}T\d{6})(\.\d{1,9})?Z\.db$`)

// ParseName returns the time a backup's name (relative to its prefix)
// says and the layers its suffixes say, and whether name is a backup's
// name at all.
func ParseName(name string) (time.Time, codec.Layers, bool) {
	base, l := codec.SplitName(name)
	m := nameRE.FindStringSubmatch(base)
	if m == nil {
		return time.Time{}, l, false
	}
	t, err := time.Parse("20060102T150405.999999999Z", m[1]+m[2]+"Z")
	return t, l, err == nil
}

// NormalizePrefix makes a key prefix a folder: no leading "/", one
// trailing "/" ("" stays the bucket's top). Save and prune both go through
// it, so a prefix written without its "/" names the same backups for both
// (defect 13.3: save wrote PREFIX20261127T...Z.db, prune refused the
// prefix at every run after a good backup).
func NormalizePrefix(p string) string {
	p = strings.TrimLeft(strings.TrimSpace(p), "/")
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// CheckPrefix refuses prefixes that would make names no tool reads back
// safely: control characters, backslashes, quotes, "//" and "." or ".."
// segments.
func CheckPrefix(p string) error {
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' || r == '"' {
			return fmt.Errorf("%q: control characters, \\ and \" are not allowed in a prefix", p)
		}
	}
	q := strings.TrimSuffix(strings.TrimLeft(p, "/"), "/")
	if q == "" {
		return nil
	}
	for _, seg := range strings.Split(q, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%q: empty, . or .. folder in the prefix", p)
		}
	}
	return nil
}

// Content types of what etcd-backup stores, before the codec's layers
// (codec.Layers.ContentType gives the stored bytes' type).
const (
	ContentTypeSnapshot = "application/x-etcd-snapshot"
	ContentTypeDump     = "application/json"
)
