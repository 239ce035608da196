#!/usr/bin/env bash
# gof3r benchmark: 1 GiB put and get against one versitygw (posix backend,
# loopback), cronbox's gof3r beside s5cmd v2.3.0 and stock gof3r v0.5.0 in
# the same run. Prints time, MB/s, peak RSS and CPU (user + system) of each
# transfer, the CPU versitygw spent on it, and the load average.
# GOF3R_BENCH_MIB=256 bench/gof3r.sh runs a smaller object;
# GOF3R_BENCH_ROUNDS=3 repeats the rows (each of ours beside its peer).
set -euo pipefail
cd "$(dirname "$0")/.."
gopath=$(go env GOPATH)
export PATH="$gopath/bin:$PATH"
mib=${GOF3R_BENCH_MIB:-1024}
bytes=$((mib << 20))

die() { printf 'bench/gof3r.sh: %s\n' "$*" >&2; exit 1; }
command -v versitygw >/dev/null || die "versitygw is not installed: run make deps"

work=$(mktemp -d)
vgw_pid=
cleanup() {
	if [ -n "$vgw_pid" ]; then kill "$vgw_pid" 2>/dev/null || true; wait "$vgw_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

GOWORK=off go build -o "$work/measure" bench/gof3r/measure.go
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/gof3r" ./gof3r # built like make build

# Peers build in throwaway modules (`go install` refuses s5cmd's replace directives).
build_peer() { # name module@version package
	mkdir -p "$work/$1"
	if (cd "$work/$1" && export GOWORK=off CGO_ENABLED=0 && go mod init peer && go get "$2" &&
		go build -trimpath -ldflags '-s -w' -o "$work/bin-$1" "$3") >"$work/$1.log" 2>&1; then
		return 0
	fi
	printf 'bench/gof3r.sh: building %s failed:\n' "$2" >&2
	tail -5 "$work/$1.log" >&2
	return 1
}
have_s5cmd=yes have_stock=yes
build_peer s5cmd github.com/peak/s5cmd/v2@v2.3.0 github.com/peak/s5cmd/v2 || have_s5cmd=
build_peer stock github.com/rlmcpherson/s3gof3r/gof3r@v0.5.0 github.com/rlmcpherson/s3gof3r/gof3r || have_stock=

port=$("$work/measure" -freeport)
bucket=bench.cronbox # dotted: stock gof3r only uses path-style for such buckets
mkdir -p "$work/s3/$bucket"
export AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=benchsecret-$$ AWS_REGION=us-east-1
versitygw --port "127.0.0.1:$port" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" posix "$work/s3" >"$work/versitygw.log" 2>&1 &
vgw_pid=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	kill -0 "$vgw_pid" 2>/dev/null || die "versitygw exited: $(cat "$work/versitygw.log")"
	sleep 0.1
done
endpoint="http://127.0.0.1:$port"

head -c "$bytes" /dev/urandom >"$work/data"

load() { cut -d' ' -f1-3 /proc/loadavg; }
# CPU seconds (user + system) versitygw has used so far: on a shared
# machine, CPU is steadier than wall time, and the server's share counts.
tck=$(getconf CLK_TCK)
server_cpu() { awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$vgw_pid/stat"; }
printf '\n%s MiB object, versitygw v1.8.0 (posix) on loopback, %s cores\n\n' "$mib" "$(nproc)"
printf '| %-44s | %-3s | %8s | %8s | %12s | %8s | %8s | %-16s | %-16s | %s\n' tool op time MB/s "peak RSS" "CPU" "server" "load at start" "load at end" note
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$(printf -- '-%.0s' {1..46})" ----- ---------- ---------- -------------- ---------- ---------- ------------------ ------------------ ------

# row LABEL OP STDIN STDOUT CMD...: STDIN "pipe" feeds the data through cat.
row() {
	local label=$1 op=$2 in=$3 out=$4 before s0
	shift 4
	before=$(load)
	s0=$(server_cpu)
	if [ "$in" = pipe ]; then
		# shellcheck disable=SC2002 # cat on purpose: stdin must be a pipe, not a file
		cat "$work/data" | "$work/measure" -o "$work/m" "$@" >"$out" 2>"$work/err" || true
	else
		"$work/measure" -o "$work/m" "$@" <"$in" >"$out" 2>"$work/err" || true
	fi
	local secs rss code cpu note=
	read -r secs rss code cpu <"$work/m"
	if [ "$code" != 0 ]; then
		note="FAILED (exit $code): $(grep -v '^\s*$' "$work/err" | head -1 | cut -c1-110)"
		printf '| %-44s | %-3s | %8s | %8s | %12s | %8s | %8s | %-16s | %-16s | %s\n' "$label" "$op" - - - - - "$before" "$(load)" "$note"
		return
	fi
	awk -v l="$label" -v o="$op" -v s="$secs" -v r="$rss" -v b="$bytes" -v c="$cpu" -v sc="$(server_cpu)" -v sc0="$s0" -v l0="$before" -v l1="$(load)" 'BEGIN {
		printf "| %-44s | %-3s | %6.2f s | %8.1f | %8.1f MiB | %6.2f s | %6.2f s | %-16s | %-16s |\n", l, o, s, b / s / 1e6, r / 1024, c, sc - sc0, l0, l1 }'
}

gof3r=$work/gof3r
# Each of ours right after its peer, so both meet the same load.
for round in $(seq "${GOF3R_BENCH_ROUNDS:-1}"); do
	[ "$round" = 1 ] || echo
	row "cronbox gof3r (stdin pipe, unknown size)" put pipe /dev/null "$gof3r" put -b "$bucket" -k pipe --endpoint "$endpoint"
	if [ -n "$have_s5cmd" ]; then
		row "s5cmd v2.3.0 (pipe from stdin)" put pipe /dev/null "$work/bin-s5cmd" --endpoint-url "$endpoint" pipe "s3://$bucket/s5cmd-pipe"
	fi
	row "cronbox gof3r (-p file)" put /dev/null /dev/null "$gof3r" put -b "$bucket" -k file --endpoint "$endpoint" -p "$work/data"
	if [ -n "$have_s5cmd" ]; then
		row "s5cmd v2.3.0 (cp file)" put /dev/null /dev/null "$work/bin-s5cmd" --endpoint-url "$endpoint" cp "$work/data" "s3://$bucket/s5cmd"
	fi
	if [ -n "$have_stock" ]; then
		row "gof3r v0.5.0 (-p file)" put /dev/null /dev/null "$work/bin-stock" put -b "$bucket" -k stock --endpoint "127.0.0.1:$port" --no-ssl -p "$work/data"
	fi
	row "cronbox gof3r (stdout, CRC64NVME checked)" get /dev/null /dev/null "$gof3r" get -b "$bucket" -k file --endpoint "$endpoint"
	if [ -n "$have_s5cmd" ]; then
		row "s5cmd v2.3.0 (cat to stdout)" get /dev/null /dev/null "$work/bin-s5cmd" --endpoint-url "$endpoint" cat "s3://$bucket/s5cmd"
	fi
	if [ -n "$have_stock" ]; then
		row "gof3r v0.5.0 (stdout)" get /dev/null /dev/null "$work/bin-stock" get -b "$bucket" -k file --endpoint "127.0.0.1:$port" --no-ssl --no-md5
	fi
done
echo
