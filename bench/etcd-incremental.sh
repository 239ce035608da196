#!/usr/bin/env bash
# Incremental etcd backups (issue 20), measured in one run on a real etcd
# (Debian's 3.4, compacting every 5 minutes as Kubernetes' API server does)
# holding ETCD_INCR_BENCH_PRELOAD MiB, while 200 values of 1 KiB a second are
# written for ETCD_INCR_BENCH_DURATION (10m; 2m for iterating):
#   - full every minute: `etcd-backup save` to versitygw every 60 s (the peer);
#   - incremental: `etcd-backup save --incremental` every 10 s with a full
#     snapshot every hour;
# then the storage each used, the recovery point each kept, the restore of
# the newest point (and the same deltas replayed by an embedded etcd as
# transactions, the replay etcd-backup does not use), and etcd-backup's RSS.
# Targets: recovery point <= 15 s, <= 5% of full-every-minute's storage.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0 ETCDCTL_API=3
gopath=$(go env GOPATH)
export PATH="$PATH:$gopath/bin"
duration=${ETCD_INCR_BENCH_DURATION:-10m}
preload=${ETCD_INCR_BENCH_PRELOAD:-512}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for p in etcd etcdctl versitygw; do command -v "$p" >/dev/null || { echo "bench: $p is not installed (make deps)"; exit 1; }; done
go build -trimpath -tags grpcnotrace -ldflags '-s -w' -o "$work/etcd-backup" ./etcd-backup
go build -trimpath -o "$work/etcdload" ./etcd-backup/internal/etcdload
go build -trimpath -o "$work/incrbench" ./etcd-backup/internal/incrbench
port() { "$work/etcdload" -freeport; }
wait_for() { # seconds, command...
	local n=$(($1 * 10)); shift
	until "$@" >/dev/null 2>&1; do n=$((n - 1)); [ "$n" -gt 0 ] || return 1; sleep 0.1; done
}

s3port=$(port)
mkdir -p "$work/s3/bench"
export AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=benchsecret AWS_REGION=us-east-1
export AWS_S3_ENDPOINT=http://127.0.0.1:$s3port
versitygw --port "127.0.0.1:$s3port" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" posix "$work/s3" >"$work/s3.log" 2>&1 &
pids+=($!)
wait_for 10 bash -c "echo >/dev/tcp/127.0.0.1/$s3port"

cport=$(port) pport=$(port)
etcd --data-dir "$work/etcd" --name b --quota-backend-bytes $((8 << 30)) \
	--auto-compaction-mode periodic --auto-compaction-retention 5m \
	--listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
	--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "b=http://127.0.0.1:$pport" --log-level error --logger zap >"$work/etcd.log" 2>&1 &
pids+=($!)
ep=http://127.0.0.1:$cport
wait_for 30 etcdctl --endpoints "$ep" endpoint health
"$work/etcdload" -endpoints "$ep" -size "$preload" -prefix /bench/bulk/ 2>/dev/null
export ETCDCTL_ENDPOINTS=$ep
echo "etcd $(etcd --version | head -1 | awk '{print $3}'), $preload MiB preloaded, $duration of 200 writes/s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$work/incrbench" -endpoint "$ep" -etcd-backup "$work/etcd-backup" -bucket bench -work "$work" -duration "$duration"
