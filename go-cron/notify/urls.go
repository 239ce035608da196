package notify

import (
	"net/url"
	"strings"
)

// Display is raw with everything that may be a token hidden, for logs and
// the status JSON: the scheme, the host when it looks like one, and *** for
// user info, path and query ("https://hc-ping.com/***",
// "smtp://***@mail.example.com:587/?***", "discord://***@***").
func Display(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" {
		return "(a URL that does not parse)"
	}
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		b.WriteString("***@")
	}
	if looksLikeHost(u.Host) {
		b.WriteString(u.Host)
	} else if u.Host != "" {
		b.WriteString("***")
	}
	if u.Path != "" && u.Path != "/" || u.Opaque != "" {
		b.WriteString("/***")
	} else if u.Path == "/" {
		b.WriteString("/")
	}
	if u.RawQuery != "" {
		b.WriteString("?***")
	}
	return b.String()
}

// looksLikeHost: a name with a dot, an address, or localhost, rather than a
// service URL's token or id in the host's place (discord://token@id).
func looksLikeHost(h string) bool {
	name := h
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		name = h[:i]
	}
	return strings.Contains(name, ".") || strings.HasPrefix(name, "[") || name == "localhost"
}

// tokenish: long enough, and with a digit or very long, to be a token or
// an id rather than a word ("webhook", "services") that masking would turn
// to *** all over the log.
func tokenish(s string) bool {
	return len(s) >= 8 && (strings.ContainsAny(s, "0123456789") || len(s) >= 20)
}

// secretParts are the pieces of raw that may be secret, for a Redactor:
// the URL itself, its password, its path and query, and whatever token-like
// user name, host, path segment or query value it has.
func secretParts(raw string) []string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil
	}
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	if u.User != nil {
		if tokenish(u.User.Username()) {
			out = append(out, u.User.Username())
		}
		if p, ok := u.User.Password(); ok {
			out = append(out, p, url.QueryEscape(p), u.User.String())
		}
	}
	if !looksLikeHost(u.Host) && tokenish(u.Host) {
		out = append(out, u.Host)
	}
	for _, p := range []string{u.Path, u.EscapedPath(), u.Opaque} {
		if len(p) > 1 {
			out = append(out, p)
		}
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if tokenish(seg) {
			out = append(out, seg)
		}
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				if tokenish(v) {
					out = append(out, v)
				}
			}
		}
	}
	return out
}
