package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"cronbox/go-cron/run"
)

// pinger speaks the healthchecks.io ping protocol (also served by
// self-hosted healthchecks and its clones): POST URL/start when a run
// starts, URL on success, URL/fail or URL/<exit status> on failure, each
// with ?rid= so overlapping runs pair up; the final ping's body is the
// output's tail.
type pinger struct {
	base       *url.URL
	exitStatus bool
	client     *http.Client
	userAgent  string
}

func newPinger(raw string, exitStatus bool) (*pinger, error) {
	u, err := parseHTTPURL(raw)
	if err != nil {
		return nil, err
	}
	return &pinger{base: u, exitStatus: exitStatus}, nil
}

func (p *pinger) setup(env setupEnv) { p.client, p.userAgent = env.client, env.userAgent }

// url is the base URL with suffix ("start", "fail", "3" or "") appended to
// its path and the rid added to its query.
func (p *pinger) url(suffix, rid string) string {
	u := *p.base
	u.Path = strings.TrimSuffix(u.Path, "/")
	if u.RawPath != "" {
		u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	}
	if suffix != "" {
		u.Path += "/" + suffix
		if u.RawPath != "" {
			u.RawPath += "/" + suffix
		}
	}
	q := u.Query()
	q.Set("rid", rid)
	u.RawQuery = q.Encode()
	return u.String()
}

func (p *pinger) post(ctx context.Context, target string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return permanent{err}
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", p.userAgent)
	return do(p.client, req)
}

// startPing is the ping of a run that has started.
func (n *Notifier) startPing(rid string) item {
	p := n.ping.s.(*pinger)
	target := p.url("start", rid)
	return item{what: "start", send: func(ctx context.Context) error { return p.post(ctx, target, nil) }}
}

// endPing is the ping of a finished run: success, or its failure, with the
// output's tail as the body.
func (n *Notifier) endPing(rid string, res run.Result) item {
	p := n.ping.s.(*pinger)
	suffix, what := "", "success"
	if !res.OK() {
		suffix, what = "fail", "failure"
		if p.exitStatus && res.ExitStatus > 0 && res.ExitStatus <= 255 {
			suffix = fmt.Sprint(res.ExitStatus)
		}
	}
	target := p.url(suffix, rid)
	// Mask before cutting: a cut secret would no longer be recognised.
	body := []byte(keepEnd(n.red.String(pingBody(res)), n.cfg.PingBody))
	return item{what: what, send: func(ctx context.Context) error { return p.post(ctx, target, body) }}
}

// pingBody is the run's output for the final ping: stdout's tail, then
// stderr's, then one line from go-cron saying how the run ended.
func pingBody(res run.Result) string {
	var b strings.Builder
	b.WriteString(res.Stdout)
	if res.Stderr != "" {
		if b.Len() > 0 && !strings.HasSuffix(res.Stdout, "\n") {
			b.WriteByte('\n')
		}
		b.WriteString(res.Stderr)
	}
	if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
		b.WriteByte('\n')
	}
	b.WriteString("go-cron: " + describe(res) + "\n")
	return b.String()
}

// keepEnd returns the last limit bytes of s, starting at a character.
func keepEnd(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	s = s[len(s)-limit:]
	for i := 0; i < utf8.UTFMax && i < len(s); i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return s
}

// do sends req and turns the answer into an error: 2xx is success; 408,
// 429 and 5xx may pass, other answers will not (permanent). The error never
// quotes the URL: it holds the token.
func do(client *http.Client, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: %w", req.Method, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // to reuse the connection
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("%s: %s: %s", req.Method, resp.Status, strings.TrimSpace(strings.ToValidUTF8(string(snippet), "?")))
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return err
	default:
		return permanent{err}
	}
}

// newRID returns a random (version 4) UUID: healthchecks.io accepts only
// UUIDs as run ids.
func newRID() string {
	var b [16]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// parseHTTPURL accepts an absolute http or https URL with a host.
func parseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: not a URL", Display(raw))
	}
	if u.Scheme == "" {
		return nil, errors.New("not a URL (no scheme): want http:// or https://")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%s: want an http:// or https:// URL with a host", Display(raw))
	}
	return u, nil
}
