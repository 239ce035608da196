#!/usr/bin/env bash
# go-cron beside supercronic v0.2.48, measured in the same run:
#   fire latency   the job records its own start (date +%s.%N); latency is
#                  how far after the scheduled second it started: p50, p99
#                  and max over FIRES (>= 60) fires, both tools side by side,
#                  with the load average at the start and the end
#                  (ONLY=latency runs this part alone)
#   idle RSS       VmRSS a few seconds after start, nothing running
#   RSS at 1 GiB   VmHWM after a job wrote 1 GiB of lines to stdout
#   status req/s   wrk against the status port while a job runs
# Run from the repository root (make bench builds bin/go-cron first).
set -euo pipefail
cd "$(dirname "$0")/.."
gopath=$(go env GOPATH)
export PATH="$gopath/bin:$PATH"

FIRES=${FIRES:-60}
ONLY=${ONLY:-}
GOCRON=${GOCRON:-bin/go-cron}
[ -x "$GOCRON" ] || { echo "bench/go-cron.sh: $GOCRON missing: run make build" >&2; exit 1; }
if ! command -v supercronic >/dev/null; then
	echo "bench/go-cron.sh: installing supercronic v0.2.48" >&2
	go install github.com/aptible/supercronic@v0.2.48
fi
command -v wrk >/dev/null || { echo "bench/go-cron.sh: wrk missing: run make deps" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_file() { # wait_file FILE SECONDS
	local i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1)); [ "$i" -lt $(($2 * 20)) ] || { echo "timed out waiting for $1" >&2; exit 1; }
		sleep 0.05
	done
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# percentile FILE P: the P-th percentile (nearest rank) of a column of numbers
percentile() { sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END { i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; printf "%.2f", a[i] }'; }

# --- fire latency: both tools side by side, every second ------------------
echo "fire latency: $FIRES fires each (about $((FIRES + 3)) s)" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
job='date +%s.%N >> '
: > "$work/gocron.fires"; : > "$work/super.fires"
"$GOCRON" --status-addr 127.0.0.1:0 --log-format json "* * * * * *" -- sh -c "$job $work/gocron.fires" >/dev/null 2>"$work/gocron.log" &
gpid=$!; pids+=("$gpid")
echo "* * * * * * * $job $work/super.fires" > "$work/crontab.latency"
supercronic -quiet "$work/crontab.latency" >/dev/null 2>&1 &
spid=$!; pids+=("$spid")
while [ "$(wc -l < "$work/gocron.fires")" -lt "$((FIRES + 1))" ] ||
	[ "$(wc -l < "$work/super.fires")" -lt "$((FIRES + 1))" ]; do sleep 0.2; done
stop "$gpid"; stop "$spid"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
lat() { # the first fire may come from a partial second: drop it
	tail -n +2 "$1" | head -n "$FIRES" | awk '{ f = $1 - int($1); printf "%.3f\n", f * 1000 }' > "$1.ms"
}
lat "$work/gocron.fires"; lat "$work/super.fires"
g_p50=$(percentile "$work/gocron.fires.ms" 50); g_p99=$(percentile "$work/gocron.fires.ms" 99)
# go-cron's own share: from the slot to its "run started" log line, written
# once the job's process exists (before sh and date have run).
grep '"msg":"run started"' "$work/gocron.log" | sed -E 's/^\{"time":"[^"]*T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?[^"]*".*/0\1/' |
	tail -n +2 | head -n "$FIRES" | awk '{ printf "%.3f\n", $1 * 1000 }' > "$work/gocron.own.ms"
o_p50=$(percentile "$work/gocron.own.ms" 50); o_p99=$(percentile "$work/gocron.own.ms" 99)
s_p50=$(percentile "$work/super.fires.ms" 50); s_p99=$(percentile "$work/super.fires.ms" 99)
g_max=$(percentile "$work/gocron.fires.ms" 100); s_max=$(percentile "$work/super.fires.ms" 100); o_max=$(percentile "$work/gocron.own.ms" 100)
latency_table() {
	printf '| fire latency p50 / p99 / max (%s fires) | %s / %s / %s ms | %s / %s / %s ms | p99 <= 5 ms |\n' "$FIRES" "$g_p50" "$g_p99" "$g_max" "$s_p50" "$s_p99" "$s_max"
	printf '| of which go-cron itself: slot to job process started, p50 / p99 / max | %s / %s / %s ms | | |\n' "$o_p50" "$o_p99" "$o_max"
}
if [ "$ONLY" = latency ]; then
	printf '\n| figure | go-cron | supercronic v0.2.48 | target |\n| --- | --- | --- | --- |\n'
	latency_table
	printf '\nBoth tools fired side by side, a job of sh -c "date +%%s.%%N >> FILE" every second; load average %s at the start, %s at the end (%s cores).\n' "$load_before" "$load_after" "$(nproc)"
	exit 0
fi

# --- idle RSS ---------------------------------------------------------------
echo "idle RSS" >&2
"$GOCRON" --status-addr 127.0.0.1:0 "0 0 1 1 *" -- true >/dev/null 2>&1 &
gpid=$!; pids+=("$gpid")
echo "0 0 1 1 * true" > "$work/crontab.idle"
supercronic "$work/crontab.idle" >/dev/null 2>&1 &
spid=$!; pids+=("$spid")
sleep 3 # settle: this is a measurement, not a synchronisation
g_idle=$(kb "$gpid" VmRSS); s_idle=$(kb "$spid" VmRSS)
stop "$gpid"; stop "$spid"

# --- RSS while a job writes 1 GiB (lines of 1000 bytes) ------------------
echo "RSS while a job writes 1 GiB (one tool after the other)" >&2
line=$(head -c 999 /dev/zero | tr '\0' x)
big="yes $line | head -c 1073741824"
"$GOCRON" --status-addr 127.0.0.1:0 --run-on-start "0 0 1 1 *" -- sh -c "$big; touch $work/g.done" >/dev/null 2>&1 &
gpid=$!; pids+=("$gpid")
t0=$(date +%s.%N); wait_file "$work/g.done" 600; t1=$(date +%s.%N)
g_big=$(kb "$gpid" VmHWM); g_big_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')
stop "$gpid"
echo "* * * * * * * $big; touch $work/s.done" > "$work/crontab.big"
supercronic "$work/crontab.big" >/dev/null 2>&1 &
spid=$!; pids+=("$spid")
t0=$(date +%s.%N); wait_file "$work/s.done" 900; t1=$(date +%s.%N)
s_big=$(kb "$spid" VmHWM); s_big_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')
stop "$spid"

# --- status port throughput while a job runs --------------------------------
echo "status port throughput (wrk, 10 s each)" >&2
gport=$(port)
"$GOCRON" --status-addr "127.0.0.1:$gport" --run-on-start "* * * * * *" -- \
	sh -c "if [ -e $work/ran ]; then exec sleep 120; fi; touch $work/ran; echo backup done" >/dev/null 2>&1 &
gpid=$!; pids+=("$gpid")
until curl -s "http://127.0.0.1:$gport/" | grep -q '"Pid": [1-9]' && curl -s "http://127.0.0.1:$gport/" | grep -q '"Running": {$'; do sleep 0.1; done
rps() { wrk -t2 -c32 -d10s "$1" | awk '/Requests\/sec/ { printf "%.0f", $2 }'; }
g_rps=$(rps "http://127.0.0.1:$gport/")
g_mrps=$(rps "http://127.0.0.1:$gport/metrics")
stop "$gpid"
sport=$(port)
echo "* * * * * * * sleep 120" > "$work/crontab.http"
supercronic -prometheus-listen-address "127.0.0.1:$sport" "$work/crontab.http" >/dev/null 2>&1 &
spid=$!; pids+=("$spid")
until curl -sf "http://127.0.0.1:$sport/metrics" >/dev/null; do sleep 0.1; done
sleep 1.2 # let the first run start
s_mrps=$(rps "http://127.0.0.1:$sport/metrics")
s_hcode=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sport/health" || true)
s_hrps="n/a"
[ "$s_hcode" = 200 ] && s_hrps=$(rps "http://127.0.0.1:$sport/health")
stop "$spid"

printf '\n| figure | go-cron | supercronic v0.2.48 | target |\n| --- | --- | --- | --- |\n'
latency_table
printf '| idle RSS | %s | %s | <= 8 MB |\n' "$(mb "$g_idle")" "$(mb "$s_idle")"
printf '| peak RSS while a job writes 1 GiB (time) | %s (%s) | %s (%s) | <= 16 MB |\n' "$(mb "$g_big")" "$g_big_s" "$(mb "$s_big")" "$s_big_s"
printf '| status GET / while a job runs | %s req/s | no status JSON; /health: %s req/s | >= 20k req/s |\n' "$g_rps" "$s_hrps"
printf '| GET /metrics while a job runs | %s req/s | %s req/s | |\n' "$g_mrps" "$s_mrps"
printf '\nBoth tools fired side by side, a job of sh -c "date +%%s.%%N >> FILE" every second; load average %s at the start, %s at the end of the latency run (%s cores).\n' "$load_before" "$load_after" "$(nproc)"
