#!/usr/bin/env bash
# `make demo`: cronbox's main job on local defaults, with no cloud account.
# It starts a real etcd (Debian's /usr/bin/etcd) and a real S3 server
# (versitygw) on loopback with a bucket, runs the image (IMAGE, which `make
# demo` builds) as users do, `docker run` where a Docker engine answers, else
# `podman run` (PODMAN), with go-cron as PID 1, and backs etcd up every 10
# seconds. Ctrl-C stops the container gracefully and removes everything it
# started.
#
#   DEMO_SECONDS=30 deploy/demo.sh   stop by itself after 30 s, and fail
#                                    unless a backup was made, the status
#                                    port answered 200 and the image's
#                                    HEALTHCHECK passed (the self-test)
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
image=${IMAGE:-cronbox:demo}
for p in etcd etcdctl versitygw; do
	command -v "$p" >/dev/null || die "$p is not installed: run '.ci/deps demo' (or 'make demo')"
done
# The engine, as `make image` chose it.
if docker info >/dev/null 2>&1; then
	engine=(docker)
	ulimits=()
else
	read -r -a engine <<<"${PODMAN:-podman}"
	command -v "${engine[0]}" >/dev/null || die "no container engine: docker info failed and ${engine[0]} is not installed (run 'make demo')"
	# Explicit limits: podman's defaults raise them, which needs
	# CAP_SYS_RESOURCE (sandboxes lack it).
	ulimits=(--ulimit nofile=20000:20000 --ulimit nproc=1000:1000)
fi
"${engine[@]}" image inspect "$image" >/dev/null 2>&1 || die "no image $image in ${engine[0]}: run 'make demo' (or 'make image IMAGE=$image')"
free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$status_port" "$etcd_port" "$((etcd_port + 1))" "$s3_port"; do
	free "$p" || die "port $p is in use on 127.0.0.1 (set STATUS_PORT, ETCD_PORT or S3_PORT)"
done

work=$(mktemp -d /tmp/cronbox-demo.XXXXXX)
pids=()
container=""
name=cronbox-demo-$$
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$container" ]; then
		say "stopping the container ($(basename "${engine[0]}") stop: SIGTERM, then its exit)"
		"${engine[@]}" stop -t 30 "$name" >/dev/null 2>&1 || true
		wait "$container_pid" 2>/dev/null || true
		"${engine[@]}" rm -f "$name" >/dev/null 2>&1 || true
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

say "running $image with $(basename "${engine[0]}") run (go-cron is PID 1)"
container=$name
"${engine[@]}" run --rm --name "$name" --network host "${ulimits[@]}" --env-file "$env_file" "$image" \
	-p "$status_port" &
container_pid=$!

status="http://127.0.0.1:$status_port"
wait_for "the status port" 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$status_port"
cat >&2 <<EOF

$(say "running: an etcd backup every 10 seconds (save -> verify -> prune, keep 5)")
  the last run, as monitors see it (200 = good, 503 = failed):
      curl -s -i $status/
  go-cron alive:            curl -s $status/healthz
  Prometheus metrics:       curl -s $status/metrics
  the container:            ${engine[*]} logs $name; ${engine[*]} healthcheck run $name (podman)
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
	# The image's HEALTHCHECK, run by the engine (docker runs it on its own
	# schedule; podman on demand).
	if [ "${engine[0]}" = docker ]; then
		health=$(docker inspect --format '{{.State.Health.Status}}' "$name" 2>/dev/null || echo unknown)
	elif "${engine[@]}" healthcheck run "$name" >/dev/null 2>&1; then
		health=healthy
	else
		health=unhealthy
	fi
	say "self-test: status $code, $backups backup(s) in the bucket, container $health"
	cat "$work/status.json" >&2 2>/dev/null || true
	echo >&2
	if [ "$code" != 200 ] || [ "$backups" -lt 1 ] || [ "$health" = unhealthy ]; then die "self-test failed"; fi
	exit 0
fi
wait "$container_pid"
