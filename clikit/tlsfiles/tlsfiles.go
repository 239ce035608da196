// Package tlsfiles turns the TLS files a user names in a tool's
// configuration (a CA bundle, a client certificate and its key: etcdctl's
// --cacert, --cert, --key) into a client's TLS configuration, and says
// which file is wrong and why.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Files are the file paths ("" where none is given).
type Files struct {
	CA   string // PEM certificates to trust instead of the system's
	Cert string // the client certificate (PEM), with Key
	Key  string
}

// The roles a file plays, as Error names them.
const (
	RoleCA   = "CA certificate"
	RoleCert = "client certificate"
)

// ErrPair is the error of a client certificate without its key, or a key
// without its certificate.
var ErrPair = errors.New("the client certificate and its key go together")

// Error is a file that cannot serve: its role (RoleCA, RoleCert), its
// path, and why.
type Error struct {
	Role, Path string
	Err        error
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s: %v", e.Role, e.Path, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Empty reports whether no file is given.
func (f Files) Empty() bool { return f.CA == "" && f.Cert == "" && f.Key == "" }

// Config reads the files into a client configuration: TLS 1.2 or later,
// the CA bundle's certificates as the roots, the key pair as the client's
// certificate.
func (f Files) Config() (*tls.Config, error) {
	if (f.Cert == "") != (f.Key == "") {
		return nil, ErrPair
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, &Error{RoleCA, f.CA, unwrapPath(err)}
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &Error{RoleCA, f.CA, errors.New("no PEM certificate in it")}
		}
	}
	if f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, &Error{RoleCert, f.Cert + " (key " + f.Key + ")", unwrapPath(err)}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// unwrapPath drops an *fs.PathError's "open PATH:" (Error names the path)
// but keeps what failed.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
