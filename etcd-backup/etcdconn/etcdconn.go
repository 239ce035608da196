// Package etcdconn turns etcd-backup's connection settings (etcdctl's flag
// names, the original image's ETCD_MACHINES/ETCD_LEADER forms) into a client
// of one healthy member, and turns the client's errors into messages that
// name the endpoint and the cause: unreachable, auth, TLS.
package etcdconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Config is how to reach the cluster.
type Config struct {
	Endpoints          []string
	CACert, Cert, Key  string // file paths, as etcdctl's --cacert, --cert, --key
	InsecureSkipVerify bool
	User, Password     string
	DialTimeout        time.Duration // connect (and authenticate) to one member
	CommandTimeout     time.Duration // one short request (status, get, put)
}

// ParseEndpoints reads an endpoint list in any of the forms users have: a
// comma or space separated list, optionally wrapped in quotes as the original
// image's ETCD_MACHINES was ("http://a:2379,http://b:2379" with the quotes).
func ParseEndpoints(s string) []string {
	s = strings.TrimSpace(s)
	s = strings.Trim(s, `"'`)
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		f = strings.Trim(strings.TrimSpace(f), `"'`)
		if f != "" {
			out = append(out, strings.TrimSuffix(f, "/"))
		}
	}
	return out
}

// CheckEndpoint reports an endpoint that cannot be dialled as written: a URL
// (http, https, unix, unixs) with a host, or a bare host:port.
func CheckEndpoint(ep string) error {
	if scheme, rest, ok := strings.Cut(ep, "://"); ok {
		switch scheme {
		case "unix", "unixs":
			if rest == "" {
				return fmt.Errorf("endpoint %q: no socket path", ep)
			}
			return nil
		case "http", "https":
		default:
			return fmt.Errorf("endpoint %q: scheme must be http or https", ep)
		}
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || u.Hostname() == "" {
			return fmt.Errorf("endpoint %q: not a URL such as http://host:2379", ep)
		}
		if p := u.Port(); p != "" {
			if err := checkPort(p); err != nil {
				return fmt.Errorf("endpoint %q: %w", ep, err)
			}
		}
		return nil
	}
	host, port, err := net.SplitHostPort(ep)
	if err != nil || host == "" || strings.ContainsAny(ep, "/?#@") {
		return fmt.Errorf("endpoint %q: not a URL (http://host:2379) or host:port", ep)
	}
	if err := checkPort(port); err != nil {
		return fmt.Errorf("endpoint %q: %w", ep, err)
	}
	return nil
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	return nil
}

// Validate reports a configuration error (exit status 2 material).
func (c Config) Validate() error {
	if len(c.Endpoints) == 0 {
		return errors.New("no etcd endpoint: set --endpoints (or ETCDCTL_ENDPOINTS, ETCD_MACHINES, ETCD_LEADER)")
	}
	for _, ep := range c.Endpoints {
		if err := CheckEndpoint(ep); err != nil {
			return err
		}
	}
	if (c.Cert == "") != (c.Key == "") {
		return errors.New("--cert and --key go together")
	}
	for _, f := range []struct{ flag, path string }{{"--cacert", c.CACert}, {"--cert", c.Cert}, {"--key", c.Key}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.flag, err)
		}
	}
	// The files are read now, not at the first dial, so a wrong file is a
	// configuration error naming it, whatever the endpoints' scheme.
	if c.CACert != "" {
		b, err := os.ReadFile(c.CACert)
		if err != nil {
			return fmt.Errorf("--cacert: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return fmt.Errorf("--cacert %s: no PEM certificate in the file", c.CACert)
		}
	}
	if c.Cert != "" {
		if _, err := tls.LoadX509KeyPair(c.Cert, c.Key); err != nil {
			return fmt.Errorf("--cert %s / --key %s: %w", c.Cert, c.Key, err)
		}
	}
	if c.User != "" && c.Password == "" {
		return fmt.Errorf("--user %s has no password: give user:password, ETCDCTL_PASSWORD or ETCDCTL_PASSWORD_FILE", c.User)
	}
	return nil
}

func (c Config) tlsConfig(endpoint string) (*tls.Config, error) {
	if c.CACert == "" && c.Cert == "" && !c.InsecureSkipVerify && !strings.HasPrefix(endpoint, "https://") {
		return nil, nil
	}
	info := transport.TLSInfo{CertFile: c.Cert, KeyFile: c.Key, TrustedCAFile: c.CACert, InsecureSkipVerify: c.InsecureSkipVerify}
	tc, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return tc, nil
}

// Connect returns a client of endpoint alone (no balancing: a backup must
// come from the member we checked).
func (c Config) Connect(ctx context.Context, endpoint string) (*clientv3.Client, error) {
	tc, err := c.tlsConfig(endpoint)
	if err != nil {
		return nil, &Error{Endpoint: endpoint, Cause: CauseTLS, Err: err}
	}
	dt := c.DialTimeout
	if dt <= 0 {
		dt = 5 * time.Second
	}
	// gRPC retries a refused connection until the deadline and then says
	// only "deadline exceeded"; one plain dial first names the real cause.
	if err := probe(ctx, endpoint, dt, tc); err != nil {
		cause := classify(err)
		if cause != CauseTLS {
			cause = CauseUnreachable
		}
		return nil, &Error{Endpoint: endpoint, Cause: cause, Err: err}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            []string{endpoint},
		TLS:                  tc,
		Username:             c.User,
		Password:             c.Password,
		DialTimeout:          dt,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: dt,
		Context:              ctx,
		Logger:               zap.NewNop(),
		MaxCallRecvMsgSize:   64 << 20,
		// A fixed flow-control window turns off gRPC's BDP estimation, which
		// otherwise grows the window to 16 MiB and buffers that much of a
		// snapshot whenever the destination is slower than etcd.
		DialOptions: []grpc.DialOption{grpc.WithInitialWindowSize(1 << 20), grpc.WithInitialConnWindowSize(1 << 20)},
	})
	if err != nil {
		return nil, Describe(endpoint, err)
	}
	return cli, nil
}

func probe(ctx context.Context, endpoint string, timeout time.Duration, tc *tls.Config) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil // unix sockets and bare host:port: leave it to gRPC
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "2379")
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			return oe.Err
		}
		return err
	}
	defer conn.Close()
	if u.Scheme != "https" {
		return nil
	}
	// Likewise for TLS: gRPC reports a bad certificate as a timeout. One
	// handshake and one small HTTP request (a server that wants a client
	// certificate says so only after the TLS 1.3 handshake) name it.
	if tc == nil {
		tc = &tls.Config{}
	}
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	tconn := tls.Client(conn, tc)
	tconn.SetDeadline(time.Now().Add(timeout))
	if err := tconn.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if _, err := tconn.Write([]byte("GET /version HTTP/1.0\r\nHost: " + u.Host + "\r\n\r\n")); err != nil {
		return err
	}
	if _, err := tconn.Read(make([]byte, 1)); err != nil && strings.Contains(err.Error(), "tls") {
		return err
	}
	return nil
}

// Member is one member that answered a status request.
type Member struct {
	Endpoint  string
	ID        uint64
	ClusterID uint64 // from the status answer's header (every etcd v3 has it)
	Version   string
	Revision  int64
	DBSize    int64
	Leader    bool
}

// Healthy asks every endpoint for its status at once and returns the
// members that answered and have a leader, in the configured order (so
// ETCD_LEADER, listed first, wins when it is healthy), and one error per
// endpoint that did not.
func (c Config) Healthy(ctx context.Context) ([]Member, []error) {
	type result struct {
		m   Member
		err error
	}
	res := make([]result, len(c.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range c.Endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := c.Status(ctx, ep)
			res[i] = result{m, err}
		}()
	}
	wg.Wait()
	var ms []Member
	var errs []error
	seen := map[uint64]bool{}
	for _, r := range res {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		if seen[r.m.ID] {
			continue // the same member listed twice (ETCD_LEADER is also in ETCD_MACHINES)
		}
		seen[r.m.ID] = true
		ms = append(ms, r.m)
	}
	return ms, errs
}

// Status connects to endpoint and asks for its status; a member without a
// leader or reporting errors (such as NOSPACE alarms) is not healthy.
func (c Config) Status(ctx context.Context, endpoint string) (Member, error) {
	cli, err := c.Connect(ctx, endpoint)
	if err != nil {
		return Member{}, err
	}
	defer cli.Close()
	return c.StatusOf(ctx, cli, endpoint)
}

// StatusOf is Status on an open client.
func (c Config) StatusOf(ctx context.Context, cli *clientv3.Client, endpoint string) (Member, error) {
	cctx, cancel := context.WithTimeout(ctx, c.commandTimeout())
	defer cancel()
	st, err := cli.Status(cctx, endpoint)
	if err != nil {
		return Member{}, Describe(endpoint, err)
	}
	m := Member{Endpoint: endpoint, ID: st.Header.MemberId, ClusterID: st.Header.ClusterId, Version: st.Version, Revision: st.Header.Revision, DBSize: st.DbSize, Leader: st.Leader == st.Header.MemberId}
	if st.Leader == 0 {
		return m, &Error{Endpoint: endpoint, Cause: CauseUnhealthy, Err: errors.New("member has no leader")}
	}
	if len(st.Errors) > 0 {
		return m, &Error{Endpoint: endpoint, Cause: CauseUnhealthy, Err: errors.New(strings.Join(st.Errors, "; "))}
	}
	return m, nil
}

func (c Config) commandTimeout() time.Duration {
	if c.CommandTimeout <= 0 {
		return 5 * time.Second
	}
	return c.CommandTimeout
}

// CommandTimeout is the deadline of one short request.
func (c Config) CommandContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.commandTimeout())
}

// Cause classifies a failure to talk to etcd.
type Cause string

const (
	CauseUnreachable Cause = "unreachable"
	CauseAuth        Cause = "auth"
	CauseTLS         Cause = "TLS"
	CauseUnhealthy   Cause = "unhealthy"
	CauseServer      Cause = "server error"
)

// Error is a failure at one endpoint, with its cause.
type Error struct {
	Endpoint string
	Cause    Cause
	Err      error
}

func (e *Error) Error() string {
	return fmt.Sprintf("etcd %s: %s: %v", e.Endpoint, e.Cause, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Describe wraps err from a request to endpoint in an *Error with its cause.
func Describe(endpoint string, err error) error {
	if err == nil {
		return nil
	}
	var ee *Error
	if errors.As(err, &ee) {
		return err
	}
	return &Error{Endpoint: endpoint, Cause: classify(err), Err: simplify(err)}
}

func classify(err error) Cause {
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, rpctypes.ErrAuthFailed), errors.Is(err, rpctypes.ErrPermissionDenied),
		errors.Is(err, rpctypes.ErrUserEmpty), errors.Is(err, rpctypes.ErrInvalidAuthToken),
		errors.Is(err, rpctypes.ErrAuthOldRevision), errors.Is(err, rpctypes.ErrUserNotFound),
		errors.Is(err, rpctypes.ErrGRPCAuthFailed), errors.Is(err, rpctypes.ErrGRPCPermissionDenied),
		errors.Is(err, rpctypes.ErrGRPCUserEmpty), errors.Is(err, rpctypes.ErrGRPCInvalidAuthToken):
		return CauseAuth
	case strings.Contains(msg, "authentication failed"), strings.Contains(msg, "permission denied"),
		strings.Contains(msg, "user name is empty"), strings.Contains(msg, "invalid auth token"):
		return CauseAuth
	case strings.Contains(msg, "x509"), strings.Contains(msg, "tls:"), strings.Contains(msg, "certificate"),
		strings.Contains(msg, "handshake"), strings.Contains(msg, "first record does not look like"):
		return CauseTLS
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unauthenticated, codes.PermissionDenied:
			return CauseAuth
		case codes.Unavailable, codes.DeadlineExceeded:
			return CauseUnreachable
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "no such host") || strings.Contains(msg, "deadline exceeded") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "unavailable") {
		return CauseUnreachable
	}
	return CauseServer
}

// simplify drops gRPC's "rpc error: code = X desc =" wrapping, which says
// nothing the cause does not.
func simplify(err error) error {
	if s, ok := status.FromError(err); ok && s.Message() != "" {
		return errors.New(s.Message())
	}
	return err
}
