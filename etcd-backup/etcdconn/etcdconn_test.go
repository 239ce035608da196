package etcdconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no etcd endpoint"},
		{Config{Endpoints: []string{"ftp://x"}}, "scheme"},
		{Config{Endpoints: []string{"http://x"}, Cert: "c"}, "--cert and --key"},
		{Config{Endpoints: []string{"http://x"}, CACert: "/nonexistent"}, "--cacert"},
		{Config{Endpoints: []string{"http://x"}, User: "root"}, "no password"},
		{Config{Endpoints: []string{"http://x"}, User: "root", Password: "p"}, ""},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Cause
	}{
		{rpctypes.ErrAuthFailed, CauseAuth},
		{rpctypes.ErrGRPCPermissionDenied, CauseAuth},
		{status.Error(codes.Unavailable, "connection error: desc = transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"), CauseTLS},
		{status.Error(codes.Unavailable, "connection error: dial tcp 127.0.0.1:1: connect: connection refused"), CauseUnreachable},
		{fmt.Errorf("status: %w", context.DeadlineExceeded), CauseUnreachable},
		{errors.New("etcdserver: mvcc: database space exceeded"), CauseServer},
	} {
		err := Describe("http://m:2379", tc.err)
		var e *Error
		if !errors.As(err, &e) || e.Cause != tc.want || !strings.Contains(err.Error(), "http://m:2379") {
			t.Errorf("Describe(%v) = %v, want cause %s", tc.err, err, tc.want)
		}
	}
}
