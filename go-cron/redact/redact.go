// Package redact keeps secret values out of everything go-cron itself
// publishes: the status JSON, the metrics and its own log lines. A value is
// secret when the name of the environment variable holding it matches one of
// a list of glob patterns (*SECRET*, *PASSWORD*, *TOKEN*, *_KEY by default);
// a NAME_FILE variable whose NAME matches contributes the file's content.
package redact

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
)

// Mask replaces every secret value.
const Mask = "***"

// DefaultPatterns is the default list of secret-looking variable names.
// ETCD_KEY is the original image's key prefix ("/_coreos.com"), not a secret.
const DefaultPatterns = "*SECRET*,*PASSWORD*,*TOKEN*,*_KEY,!ETCD_KEY"

// MinLen is the shortest value that is masked: shorter ones ("1", "on")
// would turn ordinary text into noise and are reported by Skipped instead.
const MinLen = 4

// maxFile bounds how much of a NAME_FILE secret is read.
const maxFile = 64 << 10

// Redactor replaces secret values by Mask. The zero value and nil redact nothing.
type Redactor struct {
	values   []string // longest first, so a secret containing another goes whole
	replacer *strings.Replacer
	skipped  []string
}

// ParsePatterns splits a comma-separated pattern list and checks each glob.
// A pattern starting with ! exempts matching names.
func ParsePatterns(list string) ([]string, error) {
	var out []string
	for p := range strings.SplitSeq(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := path.Match(strings.TrimPrefix(p, "!"), ""); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
		out = append(out, strings.ToUpper(p))
	}
	return out, nil
}

// IsSecretName reports whether name matches patterns (case-insensitively).
func IsSecretName(name string, patterns []string) bool {
	name = strings.ToUpper(name)
	match := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if ok, _ := path.Match(strings.TrimPrefix(p, "!"), name); ok {
			if neg {
				return false
			}
			match = true
		}
	}
	return match
}

// New builds a Redactor from environ ("NAME=value" entries) and patterns.
func New(environ []string, patterns []string) *Redactor {
	r := &Redactor{}
	seen := map[string]bool{}
	add := func(name, v string) {
		v = strings.TrimRight(v, "\r\n")
		if v == "" || seen[v] {
			return
		}
		if len(v) < MinLen {
			r.skipped = append(r.skipped, name)
			return
		}
		seen[v] = true
		r.values = append(r.values, v)
	}
	for _, kv := range environ {
		name, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if IsSecretName(name, patterns) {
			add(name, v)
		}
		if base, ok := strings.CutSuffix(name, "_FILE"); ok && IsSecretName(base, patterns) {
			if b, err := readBounded(v); err == nil {
				add(name, string(b))
			}
		}
	}
	slices.SortFunc(r.values, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(r.values))
	for _, v := range r.values {
		pairs = append(pairs, v, Mask)
	}
	r.replacer = strings.NewReplacer(pairs...)
	return r
}

func readBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFile))
}

// String returns s with every secret value replaced by Mask.
func (r *Redactor) String(s string) string {
	if r == nil || len(r.values) == 0 {
		return s
	}
	return r.replacer.Replace(s)
}

// MaxLen is the length of the longest secret (0 when there is none).
func (r *Redactor) MaxLen() int {
	if r == nil || len(r.values) == 0 {
		return 0
	}
	return len(r.values[0])
}

// Count is the number of distinct secret values.
func (r *Redactor) Count() int {
	if r == nil {
		return 0
	}
	return len(r.values)
}

// Skipped names the secret-looking variables whose values were too short to mask.
func (r *Redactor) Skipped() []string {
	if r == nil {
		return nil
	}
	return r.skipped
}

// Handler wraps an slog.Handler so that messages and string-valued
// attributes (in groups too) pass through r before they are written.
func Handler(h slog.Handler, r *Redactor) slog.Handler {
	if r == nil || len(r.values) == 0 {
		return h
	}
	return &handler{h: h, r: r}
}

type handler struct {
	h slog.Handler
	r *Redactor
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.attr(a)
	}
	return &handler{h: h.h.WithAttrs(red), r: h.r}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h: h.h.WithGroup(name), r: h.r}
}

func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = h.attr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		// errors, slices, structs: their text is what gets printed.
		return slog.String(a.Key, h.r.String(fmt.Sprint(v.Any())))
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}

// With returns a Redactor that masks r's values and values too: secrets
// go-cron learns from its own configuration rather than from a variable's
// name, such as the token in a notification URL given as a flag. Values
// shorter than MinLen are ignored. r itself is unchanged.
func (r *Redactor) With(values ...string) *Redactor {
	out := &Redactor{}
	seen := map[string]bool{}
	if r != nil {
		out.skipped = r.skipped
		for _, v := range r.values {
			seen[v] = true
			out.values = append(out.values, v)
		}
	}
	for _, v := range values {
		if len(v) < MinLen || seen[v] {
			continue
		}
		seen[v] = true
		out.values = append(out.values, v)
	}
	slices.SortFunc(out.values, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(out.values))
	for _, v := range out.values {
		pairs = append(pairs, v, Mask)
	}
	out.replacer = strings.NewReplacer(pairs...)
	return out
}
