// Package esclient speaks the snapshot parts of the Elasticsearch (7, 8, 9)
// and OpenSearch (1, 2, 3) REST APIs over plain net/http: every request
// carries Content-Type: application/json, every call has a deadline, and
// every failure names the call, the HTTP status and the server's
// error.type/reason. The decoders accept the response shapes of all those
// versions; Version tells callers which optional features a server has.
//
// It is written by hand rather than on go-elasticsearch because that client
// refuses servers without the X-Elastic-Product header, i.e. all of
// OpenSearch, and the dozen calls a snapshot job needs do not justify a
// client per distribution.
package esclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"cronbox/clikit/backoff"
	"cronbox/clikit/tlsfiles"
)

// Config says how to reach a server.
type Config struct {
	URL                string // http(s)://host:port[/prefix]; user:password@ in it is used as basic auth
	Username, Password string
	APIKey             string // the base64 "id:key" form, sent as Authorization: ApiKey
	CAFile             string // PEM file of CAs to trust in addition to nothing else
	InsecureSkipVerify bool   // skip TLS verification (logged loudly)
	RequestTimeout     time.Duration
	// RetryFor bounds how long a GET whose connection was refused or broken
	// is retried (backoff 100 ms doubling to 2 s, never past the caller's
	// deadline); 0 means 15 s, negative means no retries.
	RetryFor time.Duration
	Logger   *slog.Logger
	// Transport replaces the default transport (tests).
	Transport http.RoundTripper
}

// Client calls one server.
type Client struct {
	base     *url.URL
	auth     string // Authorization header value, or ""
	http     *http.Client
	timeout  time.Duration
	retryFor time.Duration
	log      *slog.Logger
}

// CheckURL refuses a server URL New would refuse.
func CheckURL(raw string) error {
	_, err := parseURL(raw)
	return err
}

func parseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("no server URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server URL %q: scheme must be http or https", Redact(raw))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server URL %q: no host", Redact(raw))
	}
	return u, nil
}

// New checks cfg and returns a client. Errors here are configuration errors.
func New(cfg Config) (*Client, error) {
	u, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Client{log: log, timeout: cfg.RequestTimeout, retryFor: cfg.RetryFor}
	if c.retryFor == 0 {
		c.retryFor = 15 * time.Second
	}
	if c.timeout <= 0 {
		c.timeout = time.Minute
	}
	user, pass := cfg.Username, cfg.Password
	if u.User != nil {
		if user == "" {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
		u.User = nil
	}
	switch {
	case cfg.APIKey != "" && user != "":
		return nil, errors.New("both an API key and a username are set: choose one")
	case cfg.APIKey != "":
		c.auth = "ApiKey " + cfg.APIKey
	case user != "":
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	u.Path = strings.TrimRight(u.Path, "/")
	c.base = u

	rt := cfg.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		tc, err := tlsfiles.Files{CA: cfg.CAFile}.Config()
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig = tc
		if cfg.InsecureSkipVerify {
			log.Warn("TLS VERIFICATION IS OFF: the server's certificate is not checked; anyone on the path can read and change this traffic",
				"url", u.String())
			t.TLSClientConfig.InsecureSkipVerify = true
		}
		rt = t
	}
	c.http = &http.Client{Transport: rt}
	return c, nil
}

// Redact removes a password from a URL for messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Host is the server's URL without credentials, for messages.
func (c *Client) Host() string { return c.base.String() }

// APIError is a request the server answered with a non-2xx status.
type APIError struct {
	Call   string // "PUT /_snapshot/repo/name"
	Status int
	Type   string // error.type, "" when the body was not the usual JSON
	Reason string // error.reason followed by its caused_by chain, or the body's text
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Call, e.Status)
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Status == http.StatusUnauthorized {
		s += " (the server refused the credentials: check the username/password or API key)"
	}
	return s
}

// IsStatus reports whether err is an APIError with that status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// IsType reports whether err is an APIError whose error.type is one of types.
func IsType(err error, types ...string) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, t := range types {
		if ae.Type == t {
			return true
		}
	}
	return false
}

// IsConcurrency reports whether err is the server refusing a snapshot
// operation because another one is running (or the repository changed under
// it), which succeeds when retried later.
func IsConcurrency(err error) bool {
	if IsType(err, "concurrent_snapshot_execution_exception", "snapshot_in_progress_exception") {
		return true
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	r := strings.ToLower(ae.Reason)
	return (ae.Type == "repository_exception" && strings.Contains(r, "concurrent modification")) ||
		(ae.Status == http.StatusServiceUnavailable && strings.Contains(r, "snapshot") &&
			(strings.Contains(r, "already running") || strings.Contains(r, "in progress") || strings.Contains(r, "in-progress")))
}

// errorBody is ES/OpenSearch's error answer. Very old servers and some
// proxies answer a string instead of an object.
type errorBody struct {
	Error json.RawMessage `json:"error"`
}

type errorObject struct {
	Type     string        `json:"type"`
	Reason   string        `json:"reason"`
	CausedBy *errorObject  `json:"caused_by"`
	Root     []errorObject `json:"root_cause"`
}

func decodeError(call string, status int, body []byte) *APIError {
	e := &APIError{Call: call, Status: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && len(eb.Error) > 0 {
		var o errorObject
		if json.Unmarshal(eb.Error, &o) == nil && (o.Type != "" || o.Reason != "") {
			e.Type = o.Type
			parts := []string{o.Reason}
			for c := o.CausedBy; c != nil; c = c.CausedBy {
				parts = append(parts, "caused by "+c.Type+": "+c.Reason)
			}
			if o.Reason == "" && len(o.Root) > 0 {
				parts[0] = o.Root[0].Reason
			}
			e.Reason = strings.Join(parts, ": ")
			return e
		}
		var s string
		if json.Unmarshal(eb.Error, &s) == nil {
			e.Reason = s
			return e
		}
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	e.Reason = text
	return e
}

// ConnError is a request that got no complete answer because the
// connection was refused, reset or closed: the server may be restarting.
type ConnError struct{ Err error }

func (e *ConnError) Error() string { return e.Err.Error() }
func (e *ConnError) Unwrap() error { return e.Err }

// IsConnError reports whether err is a refused or broken connection (not a
// timeout, not an answer).
func IsConnError(err error) bool {
	var ce *ConnError
	return errors.As(err, &ce)
}

func brokenConn(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		// net/http's answer to a connection cut inside the response
		// headers (its error type is not exported).
		strings.Contains(err.Error(), "transport connection broken")
}

// do sends a request. A GET whose connection is refused or broken is sent
// again with a capped backoff for up to retryFor, within ctx's deadline;
// other methods are sent once (the caller decides whether a retry is safe).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	err := c.doOnce(ctx, method, path, query, body, out)
	if method != http.MethodGet || c.retryFor < 0 || !IsConnError(err) {
		return err
	}
	until := time.Now().Add(c.retryFor)
	waits := backoff.New(100*time.Millisecond, 2*time.Second)
	for tries := 1; IsConnError(err); tries++ {
		wait := waits.Next()
		if time.Now().Add(wait).After(until) {
			return fmt.Errorf("%w (tried %d times in %s)", err, tries, c.retryFor)
		}
		c.log.Debug("connection failed; retrying", "call", method+" "+path, "err", err, "in", wait)
		if backoff.Sleep(ctx, wait) != nil {
			return fmt.Errorf("%w (tried %d times, until the deadline)", err, tries)
		}
		err = c.doOnce(ctx, method, path, query, body, out)
	}
	return err
}

// doOnce sends one request. body is marshalled unless nil; out, unless nil,
// receives the decoded 2xx answer.
func (c *Client) doOnce(ctx context.Context, method, path string, query url.Values, body, out any) error {
	call := method + " " + path
	// path comes with its segments escaped (seg); RawPath keeps them so,
	// and the commas between names stay separators.
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	unescaped, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return fmt.Errorf("%s: %w", call, err)
	}
	u.Path = unescaped
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: %w", call, err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s: %w", call, err)
	}
	// ES 6+ refuses bodies without it (406); we send it on every request.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		err = fmt.Errorf("%s on %s: %w", call, c.Host(), unwrapURLError(err))
		if ctx.Err() == nil && brokenConn(err) {
			return &ConnError{err}
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	c.log.Debug("request", "call", call, "status", resp.StatusCode, "took", time.Since(start).Round(time.Millisecond))
	if err != nil {
		err = fmt.Errorf("%s on %s: reading the answer: %w", call, c.Host(), err)
		if ctx.Err() == nil && brokenConn(err) {
			return &ConnError{err}
		}
		return err
	}
	if resp.StatusCode/100 != 2 {
		return decodeError(call, resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", call, err)
	}
	return nil
}

// unwrapURLError drops url.Error's repetition of method and URL (ours is
// in the message already).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// seg escapes one path segment (a repository or snapshot name).
func seg(s string) string { return url.PathEscape(s) }
