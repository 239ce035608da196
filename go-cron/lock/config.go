package lock

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config says which etcd holds the lock, how to reach it, and how the lock
// behaves. Endpoints and Name are required; the rest have defaults.
type Config struct {
	Endpoints []string
	Name      string // the job's lock name: letters, digits, '.', '_', '-'
	Instance  string // this instance's id; default hostname (":pid" unless pid 1)

	TTL       time.Duration // lease TTL: how long a dead holder keeps the lock (default 10s, at least 2s, whole seconds)
	FailOpen  bool          // run without the lock when etcd is unreachable
	Timeout   time.Duration // one etcd request (default 3s)
	Refresh   time.Duration // how often Poll re-reads the shared state (default 1s)
	Retention time.Duration // how long slot records are kept (default 1h); also the clock skew tolerated
	MaxOutput int           // bytes of each output tail stored in etcd (default 64 KiB)

	// TLS and authentication, as etcdctl's --cacert, --cert, --key, --user.
	CACert, Cert, Key string
	User, Password    string

	// OnChange, when set, is called (without locks held) after the state
	// State returns may have changed: the status port re-reads it then.
	OnChange func()

	Log *slog.Logger
	Now func() time.Time
}

// validName: 1-128 letters, digits, '.', '_' or '-', starting with a letter
// or digit. (A regexp with {0,127} compiled at package init cost 118 KB of
// heap and 1,700 allocations in every process of the multicall binary,
// go-cron as PID 1 among them.)
func validName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// withDefaults fills in the defaults and splits etcdctl's "user:password".
func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = 10 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
	if c.Refresh == 0 {
		c.Refresh = time.Second
	}
	if c.Retention == 0 {
		c.Retention = time.Hour
	}
	if c.MaxOutput == 0 {
		c.MaxOutput = 64 << 10
	}
	if c.Instance == "" {
		c.Instance = DefaultInstance()
	}
	if c.Password == "" {
		if u, p, ok := strings.Cut(c.User, ":"); ok {
			c.User, c.Password = u, p
		}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// DefaultInstance is the hostname (the pod's name in Kubernetes), with
// ":pid" added unless go-cron is PID 1, so several instances on one host
// still have distinct ids.
func DefaultInstance() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	if pid := os.Getpid(); pid != 1 {
		h += ":" + strconv.Itoa(pid)
	}
	return h
}

// Validate reports a configuration error, naming the setting; go-cron turns
// it into exit status 2.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.Endpoints) == 0 {
		return errors.New("lock: no etcd endpoint")
	}
	for _, ep := range c.Endpoints {
		if i := strings.Index(ep, "://"); i >= 0 {
			switch ep[:i] {
			case "http", "https", "unix", "unixs":
			default:
				return fmt.Errorf("lock: etcd endpoint %q: scheme must be http or https", ep)
			}
		}
	}
	if !validName(c.Name) {
		return fmt.Errorf("lock: name %q: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", c.Name)
	}
	if c.TTL < 2*time.Second || c.TTL%time.Second != 0 {
		return fmt.Errorf("lock: TTL %s: must be whole seconds, at least 2s (etcd's minimum lease)", c.TTL)
	}
	if c.Timeout < 0 || c.Refresh < 0 || c.Retention < 0 || c.MaxOutput < 0 {
		return errors.New("lock: timeout, refresh, retention and output size must not be negative")
	}
	if (c.Cert == "") != (c.Key == "") {
		return errors.New("lock: the client certificate and key go together")
	}
	for _, f := range []struct{ what, path string }{{"CA certificate", c.CACert}, {"client certificate", c.Cert}, {"client key", c.Key}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("lock: %s: %w", f.what, err)
		}
	}
	if c.User != "" && c.Password == "" {
		return fmt.Errorf("lock: etcd user %q has no password", c.User)
	}
	return nil
}

func (c Config) tlsConfig() (*tls.Config, error) {
	https := false
	for _, ep := range c.Endpoints {
		https = https || strings.HasPrefix(ep, "https://")
	}
	if c.CACert == "" && c.Cert == "" && !https {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return nil, fmt.Errorf("lock: TLS: CA certificate: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("lock: TLS: CA certificate %s: no PEM certificate in it", c.CACert)
		}
	}
	if c.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("lock: TLS: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
