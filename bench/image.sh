#!/usr/bin/env bash
# The image's size, both ways: one multicall binary (what `make rootfs`
# ships) and one binary per tool, beside the original image (about 25 MB)
# and the 20 MB target. Prints a Markdown table; assembles into build/size-*;
# then what each package family costs in the multicall binary.
# Then the image as the engine sees it (`make image`: docker, else podman):
# its size as the engine reports it, and go-cron's RSS as PID 1 inside the
# running container, idle and after 2,000 GET /metrics, beside the
# standalone go-cron binary (bin/go-cron) measured the same way in the same
# run. PODMAN may carry podman's global flags, as for `make image`.
set -euo pipefail
cd "$(dirname "$0")/.."

bytes() { stat -c %s "$1"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1e6 }'; }

TOOLS=multicall rootfs/assemble build/size-multicall 2>/dev/null
TOOLS=separate rootfs/assemble build/size-separate 2>/dev/null
m=build/size-multicall s=build/size-separate

echo "| file | one binary per tool | multicall (shipped) |"
echo "| --- | --- | --- |"
for t in go-cron gof3r etcd-backup es-snapshot ep; do
	echo "| \`$t\` | $(mb "$(bytes "$s/usr/local/bin/$t")") | symlink to \`cronbox\` |"
done
echo "| \`cronbox\` (every tool) | — | $(mb "$(bytes "$m/usr/local/bin/cronbox")") |"
echo "| \`busybox\` (Debian busybox-static) | $(mb "$(bytes "$s/bin/busybox")") | $(mb "$(bytes "$m/bin/busybox")") |"
echo "| CA bundle | $(mb "$(bytes "$s/etc/ssl/certs/ca-certificates.crt")") | $(mb "$(bytes "$m/etc/ssl/certs/ca-certificates.crt")") |"
echo "| **total, \`du -sb\` of the rootfs** | **$(mb "$(du -sb "$s" | cut -f1)")** | **$(mb "$(du -sb "$m" | cut -f1)")** |"
echo "| the original image / the target | about 25 MB / 20 MB | |"
rm -rf build/size-multicall build/size-separate

# What each package family costs in the multicall binary: bench/sizes reads
# the symbol table of the same build, unstripped.
sym=$(mktemp)
gcflags=()
for f in all=-l std= github.com/klauspost/...= golang.org/x/crypto/...=; do gcflags+=("-gcflags=$f"); done # as rootfs/assemble
CGO_ENABLED=0 go build -trimpath -tags grpcnotrace "${gcflags[@]}" -o "$sym" ./multicall
echo
GOWORK=off go run bench/sizes/sizes.go "$sym" 30
rm -f "$sym"

# --- The image through the engine ----------------------------------------
REQUESTS=${REQUESTS:-2000}
image=cronbox:bench
if docker info >/dev/null 2>&1; then
	engine=(docker)
	ulimits=()
else
	read -r -a engine <<<"${PODMAN:-podman}"
	command -v "${engine[0]}" >/dev/null || { echo "bench/image.sh: no container engine (run make deps)" >&2; exit 1; }
	ulimits=(--ulimit nofile=20000:20000 --ulimit nproc=1000:1000)
fi
command -v curl >/dev/null || { echo "bench/image.sh: curl missing: run make deps" >&2; exit 1; }
[ -x bin/go-cron ] || { echo "bench/image.sh: bin/go-cron missing: run make build" >&2; exit 1; }
make -s image IMAGE="$image" PODMAN="${engine[*]}" >/dev/null 2>&1 || make image IMAGE="$image" PODMAN="${engine[*]}" >&2

name=cronbox-bench-$$
standalone=""
work=$(mktemp -d)
cleanup() {
	"${engine[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true
	[ -z "$standalone" ] || kill "$standalone" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rss_mb() { awk '$1 == "VmRSS:" { printf "%.1f MB", $2 / 1024 }' "/proc/$1/status"; }
wait_up() { # wait_up PORT: until /healthz answers (30 s at most)
	for _ in $(seq 300); do
		curl -sf -o /dev/null "http://127.0.0.1:$1/healthz" && return 0
		sleep 0.1
	done
	echo "bench/image.sh: nothing answers on port $1" >&2
	exit 1
}
# measure PID PORT: "idle | after N requests" (two table cells) for the
# go-cron at PID.
measure() {
	wait_up "$2"
	sleep 2 # settled: the start's garbage collected, nothing running
	local idle
	idle=$(rss_mb "$1")
	curl -sf -o /dev/null "http://127.0.0.1:$2/metrics?i=[1-$REQUESTS]"
	echo "$idle | $(rss_mb "$1")"
}

size_bytes=$("${engine[@]}" image inspect --format '{{.Size}}' "$image")
size_shown=$("${engine[@]}" images --format '{{.Size}}' "$image" | head -1)

p1=$(free_port)
"${engine[@]}" run -d --name "$name" --network host "${ulimits[@]}" \
	-e JOB=true -e GOCRON_SCHEDULE='@every 1h' "$image" -p "$p1" >/dev/null 2>"$work/run.err" ||
	{ cat "$work/run.err" >&2; exit 1; }
pid1=$("${engine[@]}" inspect --format '{{.State.Pid}}' "$name")
in_image=$(measure "$pid1" "$p1")

p2=$(free_port)
GOCRON_SCHEDULE='@every 1h' bin/go-cron --status-addr "127.0.0.1:$p2" -- true >"$work/standalone.log" 2>&1 &
standalone=$!
alone=$(measure "$standalone" "$p2")

echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| image size, as ${engine[0]##*/} reports it | $(mb "$size_bytes") (\`${engine[0]##*/} images\`: $size_shown) |"
echo "| --- | --- |"
echo "| the original image / the target | about 25 MB / 20 MB |"
echo
echo "| go-cron RSS (VmRSS) | idle | after $REQUESTS GET /metrics |"
echo "| --- | --- | --- |"
echo "| PID 1 in the image's container (the multicall \`cronbox\`) | $in_image |"
echo "| standalone \`bin/go-cron\`, same run | $alone |"
