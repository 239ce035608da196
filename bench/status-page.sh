#!/usr/bin/env bash
# go-cron's status port with the page and job results, beside the go-cron
# before them (BEFORE, a commit; default 080bc0e, the last one without),
# measured in the same run:
#   binary size    both built as `make build` builds bin/go-cron
#   idle RSS       VmRSS a few seconds after start, nothing running
#   RSS after use  VmRSS after the wrk runs below
#   req/s          wrk against the status port while a job runs, after a run
#                  that reported a result (so LastGood and the history show):
#                  GET / as curl asks (JSON), GET / as a browser asks (the
#                  page), GET /api/runs
# Run from the repository root (make bench builds bin/go-cron first).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"

BEFORE=${BEFORE:-080bc0e}
AFTER=${GOCRON:-bin/go-cron}
DURATION=${DURATION:-10s}
[ -x "$AFTER" ] || { echo "bench/status-page.sh: $AFTER missing: run make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench/status-page.sh: wrk missing: run make deps" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "building go-cron at $BEFORE" >&2
mkdir "$work/before"
git archive "$BEFORE" | tar -x -C "$work/before"
(cd "$work/before" && CGO_ENABLED=0 go build -trimpath -tags grpcnotrace -ldflags '-s -w' -o "$work/go-cron-before" ./go-cron)
BEFORE_BIN=$work/go-cron-before

kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
rps() { wrk -t2 -c32 -d"$DURATION" "$@" | awk '/Requests\/sec/ { printf "%.0f", $2 }'; }
html='Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A size idle used json page runs
for which in before after; do
	bin=$BEFORE_BIN
	[ "$which" = after ] && bin=$AFTER
	size[$which]=$(stat -c %s "$bin")

	echo "$which: idle RSS" >&2
	"$bin" --status-addr 127.0.0.1:0 "0 0 1 1 *" -- true >/dev/null 2>&1 &
	pid=$!; pids+=("$pid")
	sleep 3 # settle: a measurement, not a synchronisation
	idle[$which]=$(kb "$pid" VmRSS)
	stop "$pid"

	# The first run reports a backup and succeeds; every later one holds
	# the slot (sleep), so a job runs while wrk asks.
	echo "$which: status port throughput while a job runs (wrk, $DURATION each)" >&2
	p=$(port)
	rm -f "$work/ran"
	"$bin" --status-addr "127.0.0.1:$p" "* * * * * *" -- sh -c "if [ -e $work/ran ]; then echo uploading; exec sleep 120; fi; touch $work/ran
printf '{\"kind\":\"etcd-snapshot\",\"location\":\"s3://b/etcd-backup/20261127T030405Z.db\",\"size\":123456789,\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\"verified\":true}' > \"\${GOCRON_RESULT_FILE:-/dev/null}\"; echo backup done" >/dev/null 2>&1 &
	pid=$!; pids+=("$pid")
	until curl -s "http://127.0.0.1:$p/" | grep -q '"Pid": [1-9]' && curl -s "http://127.0.0.1:$p/" | grep -q '"Running": {$'; do sleep 0.1; done
	json[$which]=$(rps "http://127.0.0.1:$p/")
	if [ "$which" = after ]; then
		curl -sf -H "$html" "http://127.0.0.1:$p/" | grep -q '<h2 id="h-good">' || { echo "no page at /" >&2; exit 1; }
		page[$which]=$(rps -H "$html" "http://127.0.0.1:$p/")
		runs[$which]=$(rps "http://127.0.0.1:$p/api/runs")
	else
		page[$which]="none"; runs[$which]="none"
	fi
	used[$which]=$(kb "$pid" VmRSS)
	stop "$pid"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

kbd() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f KB", (b - a) / 1024 }'; }
printf '\n| figure | go-cron %s (before) | go-cron now | change | target |\n| --- | --- | --- | --- | --- |\n' "$BEFORE"
printf '| binary (stripped) | %s bytes | %s bytes | %s | <= +300 KB |\n' "${size[before]}" "${size[after]}" "$(kbd "${size[before]}" "${size[after]}")"
printf '| idle RSS | %s | %s | %+d KB | <= +1 MB |\n' "$(mb "${idle[before]}")" "$(mb "${idle[after]}")" "$((idle[after] - idle[before]))"
printf '| RSS after the wrk runs | %s | %s | %+d KB | |\n' "$(mb "${used[before]}")" "$(mb "${used[after]}")" "$((used[after] - used[before]))"
printf '| GET / as JSON (curl) while a job runs | %s req/s | %s req/s | | >= 20k req/s |\n' "${json[before]}" "${json[after]}"
printf '| GET / as the page (a browser) while a job runs | %s | %s req/s | | >= 5k req/s |\n' "${page[before]}" "${page[after]}"
printf '| GET /api/runs while a job runs | %s | %s req/s | | |\n' "${runs[before]}" "${runs[after]}"
printf '\nwrk -t2 -c32 -d%s; load average %s before, %s after (%s cores).\n' "$DURATION" "$load_before" "$load_after" "$(nproc)"
