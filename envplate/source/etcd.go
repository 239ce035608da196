//go:build !noetcd

package source

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"cronbox/envplate/subst"
)

// EtcdBuiltIn reports whether this binary has the etcd source (it is left
// out with -tags noetcd, to measure what the client costs).
const EtcdBuiltIn = true

// LoadEtcd reads every key under prefix from the etcd cluster at endpoints,
// once, and returns them as variables: key prefix+"ES_HOST_URL" supplies
// ES_HOST_URL. Keys below the prefix that are not variable names (deeper
// directories, dashes) are skipped. timeout bounds the dial and the read
// together.
func LoadEtcd(ctx context.Context, log *slog.Logger, endpoints []string, prefix string, timeout time.Duration) (subst.Map, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	where := strings.Join(endpoints, ",")
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: timeout,
		Context:     ctx,
		Logger:      zap.NewNop(),
	}
	for _, ep := range endpoints {
		if strings.HasPrefix(ep, "https://") {
			cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return subst.Map{}, fmt.Errorf("etcd %s: %w", where, err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return subst.Map{}, fmt.Errorf("etcd %s: read keys under %s (timeout %s): %w", where, prefix, timeout, err)
	}
	vars := make(map[string]string, len(resp.Kvs))
	skipped := 0
	for _, kv := range resp.Kvs {
		name := strings.TrimPrefix(string(kv.Key), prefix)
		if !isName(name) {
			skipped++
			continue
		}
		vars[name] = string(kv.Value)
	}
	log.Info("read variables from etcd", "endpoints", where, "prefix", prefix, "variables", len(vars), "skipped_keys", skipped)
	return subst.Map{Vars: vars, From: "etcd"}, nil
}
