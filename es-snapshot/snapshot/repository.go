package snapshot

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"cronbox/es-snapshot/esclient"
)

// EnsureRepo registers repository name as want unless it already is, then
// verifies it. It reports whether it (re-)registered.
func (r *Runner) EnsureRepo(ctx context.Context, name string, want esclient.Repository) (bool, error) {
	have, err := r.Client.GetRepository(ctx, name)
	if err != nil {
		return false, fmt.Errorf("read repository %s: %w", name, err)
	}
	changed := false
	switch {
	case have == nil:
		r.progress("repository %s: not registered, registering (type %s)", name, want.Type)
		changed = true
	case !SameRepository(*have, want):
		r.progress("repository %s: registered with other settings (type %s %v), re-registering (type %s %v)",
			name, have.Type, stringSettings(have.Settings), want.Type, stringSettings(want.Settings))
		changed = true
	default:
		r.progress("repository %s: registered as wanted (type %s)", name, want.Type)
	}
	if changed {
		err := r.retryBusy(ctx, "register repository "+name, func() error {
			return r.Client.PutRepository(ctx, name, want)
		})
		if err != nil {
			return changed, fmt.Errorf("register repository %s: %w", name, err)
		}
	}
	nodes, err := r.Client.VerifyRepository(ctx, name)
	if err != nil {
		return changed, fmt.Errorf("verify repository %s: %w", name, err)
	}
	sort.Strings(nodes)
	r.progress("repository %s: verified by %d node(s): %s", name, len(nodes), strings.Join(nodes, ", "))
	return changed, nil
}

// SameRepository compares registrations as the server stores them: the
// settings' values are strings there ("true", "5mb").
func SameRepository(a, b esclient.Repository) bool {
	if a.Type != b.Type {
		return false
	}
	as, bs := stringSettings(a.Settings), stringSettings(b.Settings)
	if len(as) != len(bs) {
		return false
	}
	for k, v := range as {
		if w, ok := bs[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func stringSettings(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any: // {"a":{"b":1}} is stored as "a.b": "1"
			for k, y := range x {
				walk(prefix+k+".", y)
			}
		case string:
			out[strings.TrimSuffix(prefix, ".")] = x
		case float64:
			out[strings.TrimSuffix(prefix, ".")] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			out[strings.TrimSuffix(prefix, ".")] = fmt.Sprint(x)
		}
	}
	for k, v := range m {
		walk(k+".", v)
	}
	return out
}
