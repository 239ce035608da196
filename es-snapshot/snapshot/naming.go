// Package snapshot is what es-snapshot does with a server: ensure a
// repository, create a snapshot and watch it to its end, prune old ones
// under a retention policy that can never remove the last good backup, and
// restore. It calls the server through esclient; the policy decisions (names,
// retention) are plain functions so tests can table them.
package snapshot

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultPattern names snapshots as the original job did:
// $(date +%Y-%m-%d-%H-%M-%S)_${ES_SNAPSHOTNAME}, in UTC.
const DefaultPattern = "%Y-%m-%d-%H-%M-%S_{name}"

// Namer makes snapshot names from a pattern and recognises the names it
// made: prune and restore touch only those.
//
// The pattern knows %Y (4-digit year), %m %d %H %M %S (2 digits each), %%
// and {name}; everything else is literal.
type Namer struct {
	pattern, name string
	re            *regexp.Regexp
}

// NewNamer checks the pattern and the name.
func NewNamer(pattern, name string) (*Namer, error) {
	if pattern == "" {
		pattern = DefaultPattern
	}
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		ch := pattern[i]
		switch {
		case ch == '%' && i+1 < len(pattern):
			i++
			switch pattern[i] {
			case 'Y':
				re.WriteString(`\d{4}`)
			case 'm', 'd', 'H', 'M', 'S':
				re.WriteString(`\d{2}`)
			case '%':
				re.WriteString("%")
			default:
				return nil, fmt.Errorf("name pattern %q: unknown directive %%%c (known: %%Y %%m %%d %%H %%M %%S %%%%)", pattern, pattern[i])
			}
		case strings.HasPrefix(pattern[i:], "{name}"):
			re.WriteString(regexp.QuoteMeta(name))
			i += len("{name}") - 1
		default:
			re.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	re.WriteString("$")
	n := &Namer{pattern: pattern, name: name, re: regexp.MustCompile(re.String())}
	if err := ValidName(n.Name(time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC))); err != nil {
		return nil, fmt.Errorf("name pattern %q with name %q: %w", pattern, name, err)
	}
	return n, nil
}

// Name is the snapshot name for t (taken in UTC).
func (n *Namer) Name(t time.Time) string {
	t = t.UTC()
	r := strings.NewReplacer(
		"%%", "%",
		"%Y", fmt.Sprintf("%04d", t.Year()),
		"%m", fmt.Sprintf("%02d", int(t.Month())),
		"%d", fmt.Sprintf("%02d", t.Day()),
		"%H", fmt.Sprintf("%02d", t.Hour()),
		"%M", fmt.Sprintf("%02d", t.Minute()),
		"%S", fmt.Sprintf("%02d", t.Second()),
		"{name}", n.name,
	)
	return r.Replace(n.pattern)
}

// Owns reports whether name is one this namer makes.
func (n *Namer) Owns(name string) bool { return n.re.MatchString(name) }

// ValidName applies the server's rules for snapshot names, so a bad
// ES_SNAPSHOTNAME is a configuration error at start, not a 400 at 3 a.m.
func ValidName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty snapshot name")
	case strings.ToLower(s) != s:
		return fmt.Errorf("snapshot name %q must be lowercase", s)
	case strings.HasPrefix(s, "_"):
		return fmt.Errorf("snapshot name %q must not start with _", s)
	case strings.ContainsAny(s, ` ,"*\/<>|?#`):
		return fmt.Errorf(`snapshot name %q must not contain spaces or any of , " * \ / < > | ? #`, s)
	}
	return nil
}
