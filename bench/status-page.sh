#!/usr/bin/env bash
# go-cron's status port with the page and job results, beside the go-cron
# before them (BEFORE, a commit; default: see below), measured in the same
# run:
#   binary size    both built as `make build` builds bin/go-cron
#   idle RSS       VmRSS a few seconds after start, nothing running
#   RSS after use  VmRSS after the wrk runs below
#   req/s          wrk against the status port while a job runs, after a run
#                  that reported a result (so LastGood and the history show):
#                  GET / as curl asks (JSON), GET / as a browser asks (the
#                  page), GET /api/runs; both go-crons run side by side and
#                  the rounds alternate, medians of ROUNDS (default 3)
# Run from the repository root (make bench builds bin/go-cron first).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"

# BEFORE: the commit on the first-parent line just before job results and
# the page came in (on main: that merge's first parent), so that later
# changes to go-cron count on neither side. BEFORE=main compares with main.
if [ -z "${BEFORE:-}" ]; then
	first=$(git log --first-parent --reverse --format=%H -- jobresult go-cron/status/page.go | head -n 1)
	BEFORE=$(git rev-parse --short "$first^")
fi
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
declare -A size idle used json page runs pid port
for which in before after; do
	bin=$BEFORE_BIN
	[ "$which" = after ] && bin=$AFTER
	size[$which]=$(stat -c %s "$bin")
	echo "$which: idle RSS" >&2
	"$bin" --status-addr 127.0.0.1:0 "0 0 1 1 *" -- true >/dev/null 2>&1 &
	p=$!; pids+=("$p")
	sleep 3 # settle: a measurement, not a synchronisation
	idle[$which]=$(kb "$p" VmRSS)
	stop "$p"
done

# Both side by side, each with a job running: the first run reports a
# backup and succeeds; every later one holds the slot (sleep).
for which in before after; do
	bin=$BEFORE_BIN
	[ "$which" = after ] && bin=$AFTER
	port[$which]=$(port)
	"$bin" --status-addr "127.0.0.1:${port[$which]}" "* * * * * *" -- sh -c "if [ -e $work/ran-$which ]; then echo uploading; exec sleep 300; fi; touch $work/ran-$which
printf '{\"kind\":\"etcd-snapshot\",\"location\":\"s3://b/etcd-backup/20261127T030405Z.db\",\"size\":123456789,\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\"verified\":true}' > \"\${GOCRON_RESULT_FILE:-/dev/null}\"; echo backup done" >/dev/null 2>&1 &
	pid[$which]=$!; pids+=("${pid[$which]}")
	url="http://127.0.0.1:${port[$which]}/"
	until curl -s "$url" | grep -q '"Pid": [1-9]' && curl -s "$url" | grep -q '"Running": {$'; do sleep 0.1; done
done
curl -sf -H "$html" "http://127.0.0.1:${port[after]}/" | grep -q '<h2 id="h-good">' || { echo "no page at /" >&2; exit 1; }

# Rounds alternate between the two (the machine is shared: its load moves);
# each figure is the median of ROUNDS.
ROUNDS=${ROUNDS:-3}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A jsonl pagel runsl
for r in $(seq "$ROUNDS"); do
	echo "round $r of $ROUNDS: wrk, $DURATION per figure" >&2
	for which in before after; do
		jsonl[$which]+=" $(rps "http://127.0.0.1:${port[$which]}/")"
	done
	pagel[after]+=" $(rps -H "$html" "http://127.0.0.1:${port[after]}/")"
	runsl[after]+=" $(rps "http://127.0.0.1:${port[after]}/api/runs")"
done
for which in before after; do
	json[$which]=$(echo "${jsonl[$which]}" | median)
	used[$which]=$(kb "${pid[$which]}" VmRSS)
	stop "${pid[$which]}"
done
page[before]="none"; runs[before]="none"
page[after]=$(echo "${pagel[after]}" | median)
runs[after]=$(echo "${runsl[after]}" | median)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

kbd() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f KB", (b - a) / 1024 }'; }
printf '\n| figure | go-cron %s (before) | go-cron now | change | target |\n| --- | --- | --- | --- | --- |\n' "$BEFORE"
printf '| binary (stripped) | %s bytes | %s bytes | %s | <= +300 KB |\n' "${size[before]}" "${size[after]}" "$(kbd "${size[before]}" "${size[after]}")"
printf '| idle RSS | %s | %s | %+d KB | <= +1 MB |\n' "$(mb "${idle[before]}")" "$(mb "${idle[after]}")" "$((idle[after] - idle[before]))"
printf '| RSS after the wrk runs | %s | %s | %+d KB | |\n' "$(mb "${used[before]}")" "$(mb "${used[after]}")" "$((used[after] - used[before]))"
printf '| GET / as JSON (curl) while a job runs | %s req/s | %s req/s | | >= 20k req/s |\n' "${json[before]}" "${json[after]}"
printf '| GET / as the page (a browser) while a job runs | %s | %s req/s | | >= 5k req/s |\n' "${page[before]}" "${page[after]}"
printf '| GET /api/runs while a job runs | %s | %s req/s | | |\n' "${runs[before]}" "${runs[after]}"
printf '\nMedians of %s alternating rounds of wrk -t2 -c32 -d%s; load average %s before, %s after (%s cores).\n' "$ROUNDS" "$DURATION" "$load_before" "$load_after" "$(nproc)"
