//go:build noetcd

package source

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"cronbox/envplate/subst"
)

// EtcdBuiltIn reports whether this binary has the etcd source.
const EtcdBuiltIn = false

// LoadEtcd fails: this binary was built with -tags noetcd.
func LoadEtcd(context.Context, *slog.Logger, []string, string, time.Duration) (subst.Map, error) {
	return subst.Map{}, errors.New("etcd: this ep was built without the etcd source (-tags noetcd)")
}
