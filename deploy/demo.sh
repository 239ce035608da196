#!/usr/bin/env bash
# `make demo`: cronbox's main job on local defaults, with no cloud account.
# It starts a real etcd (Debian's /usr/bin/etcd) and a real S3 server
# (versitygw) on loopback with a bucket, runs the image's filesystem as a
# container with go-cron as PID 1 (docker run where a Docker engine answers,
# else unshare --pid + chroot as root), and backs etcd up every 10 seconds.
# Ctrl-C stops the container gracefully and removes everything it started.
#
#   DEMO_SECONDS=30 deploy/demo.sh   stop by itself after 30 s, and fail
#                                    unless a backup was made and the status
#                                    port answered 200 (the self-test)
# Ports: STATUS_PORT (18080), ETCD_PORT (23790), S3_PORT (23900).
set -euo pipefail
cd "$(dirname "$0")/.."
gopath=$(go env GOPATH 2>/dev/null || echo /root/go)
export PATH="$gopath/bin:$PATH"

status_port=${STATUS_PORT:-18080}
etcd_port=${ETCD_PORT:-23790}
s3_port=${S3_PORT:-23900}
bucket=cronbox-demo
access=demo-access-key
secret=demo-secret-$RANDOM$RANDOM

say() { printf '\033[1mdemo:\033[0m %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}
for p in etcd etcdctl versitygw unshare chroot; do
	command -v "$p" >/dev/null || die "$p is not installed: run 'make deps'"
done
[ -x build/rootfs/usr/local/bin/entrypoint ] || die "build/rootfs is missing: run 'make rootfs'"
free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$status_port" "$etcd_port" "$((etcd_port + 1))" "$s3_port"; do
	free "$p" || die "port $p is in use on 127.0.0.1 (set STATUS_PORT, ETCD_PORT or S3_PORT)"
done

work=$(mktemp -d /tmp/cronbox-demo.XXXXXX)
pids=()
container=""
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$container" ]; then
		say "stopping the container (SIGTERM, as docker stop does)"
		if [ "$container" = docker ]; then
			docker stop -t 30 cronbox-demo >/dev/null 2>&1 || true
		else
			kill -TERM "$container_pid" 2>/dev/null || true
			wait "$container_pid" 2>/dev/null || true
		fi
	fi
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
	say "cleaned up"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for WHAT SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
	local what=$1 deadline=$((SECONDS + $2))
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || die "$what did not come up; its log is in $work"
		sleep 0.2
	done
}

say "starting etcd $(etcd --version | head -1 | awk '{print $3}') on 127.0.0.1:$etcd_port"
etcd --name demo --data-dir "$work/etcd" \
	--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
	--listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
	--initial-cluster "demo=http://127.0.0.1:$((etcd_port + 1))" >"$work/etcd.log" 2>&1 &
pids+=($!)
export ETCDCTL_API=3
etcdctl=(etcdctl --endpoints "http://127.0.0.1:$etcd_port")
wait_for etcd 20 "${etcdctl[@]}" endpoint health
for i in $(seq 1 20); do "${etcdctl[@]}" put "/demo/key-$i" "value-$i" >/dev/null; done
"${etcdctl[@]}" put /demo/greeting "hello from cronbox" >/dev/null

say "starting versitygw (S3) on 127.0.0.1:$s3_port with bucket $bucket"
mkdir -p "$work/s3/$bucket"
versitygw --port "127.0.0.1:$s3_port" --access "$access" --secret "$secret" posix "$work/s3" >"$work/versitygw.log" 2>&1 &
pids+=($!)
wait_for versitygw 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$s3_port"

# The container's whole environment. The secret goes through the
# environment (an env file for docker), never a command line.
env_file="$work/cronbox.env"
cat >"$env_file" <<EOF
JOB=etcd-backup
GOCRON_SCHEDULE=*/10 * * * * *
ETCD_ENDPOINTS=http://127.0.0.1:$etcd_port
AWS_S3_BUCKET=$bucket
AWS_S3_ENDPOINT=http://127.0.0.1:$s3_port
AWS_ACCESS_KEY_ID=$access
AWS_SECRET_ACCESS_KEY=$secret
ETCD_KEEP_LAST=5
EOF
chmod 600 "$env_file"

if docker info >/dev/null 2>&1 && [ "${DEMO_NO_DOCKER:-}" = "" ]; then
	say "Docker engine found: building the image and running it with docker run"
	make -s image IMAGE=cronbox:demo >&2
	container=docker
	docker run --rm --name cronbox-demo --network host --env-file "$env_file" cronbox:demo \
		-p "$status_port" &
	container_pid=$!
else
	say "no Docker engine: running build/rootfs with unshare --pid --fork + chroot (go-cron is PID 1)"
	cp -a build/rootfs "$work/rootfs"
	container=rootfs
	(
		while IFS= read -r name; do unset "$name" 2>/dev/null || true; done < <(compgen -e)
		export PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp
		while IFS='=' read -r name value; do export "$name=$value"; done <"$env_file"
		exec rootfs/run "$work/rootfs" -p "$status_port"
	) &
	container_pid=$!
fi

status="http://127.0.0.1:$status_port"
wait_for "the status port" 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$status_port"
cat >&2 <<EOF

$(say "running: an etcd backup every 10 seconds (save -> verify -> prune, keep 5)")
  the last run, as monitors see it (200 = good, 503 = failed):
      curl -s -i $status/
  go-cron alive:            curl -s $status/healthz
  Prometheus metrics:       curl -s $status/metrics
  the backups in the bucket (versitygw's posix store is plain files):
      ls -l $work/s3/$bucket/etcd-backup/
  check one:                AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=... \\
                              AWS_S3_ENDPOINT=http://127.0.0.1:$s3_port bin/etcd-backup verify s3://$bucket/etcd-backup/<name>
  (the secret is in $env_file while the demo runs)
  Ctrl-C stops the container and cleans everything up.

EOF

if [ -n "${DEMO_SECONDS:-}" ]; then
	deadline=$((SECONDS + DEMO_SECONDS))
	while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$container_pid" 2>/dev/null; do sleep 1; done
	code=503
	busybox wget -q -O "$work/status.json" "$status/" 2>/dev/null && code=200
	backups=$(find "$work/s3/$bucket" -type f -name '*.db' | wc -l)
	say "self-test: status $code, $backups backup(s) in the bucket"
	cat "$work/status.json" >&2 2>/dev/null || true
	echo >&2
	if [ "$code" != 200 ] || [ "$backups" -lt 1 ]; then die "self-test failed"; fi
	exit 0
fi
wait "$container_pid"
