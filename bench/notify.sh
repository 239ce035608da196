#!/usr/bin/env bash
# Pings and notifications never get in the schedule's way (issue 16). Three
# schedulers side by side for FIRES seconds, a job every second that records
# its own start (date +%s.%N):
#   go-cron             no notifications
#   go-cron + hung      --ping-url and --webhook-url (every success notifies)
#                       to a receiver that accepts connections and never answers
#   supercronic + curl  supercronic v0.2.48 with the job followed by
#                       `curl -m 10 URL` to the same receiver, the "use curl"
#                       answer to pings (supercronic#14)
# Reported: fire latency (how far after the second each job started), fires
# that happened, go-cron's RSS along the way (bounded memory with a dead
# receiver), and its notification counters.
# Run from the repository root (make bench builds bin/go-cron first).
set -euo pipefail
cd "$(dirname "$0")/.."
gopath=$(go env GOPATH)
export PATH="$gopath/bin:$PATH"

FIRES=${FIRES:-40}
GOCRON=${GOCRON:-bin/go-cron}
[ -x "$GOCRON" ] || { echo "bench/notify.sh: $GOCRON missing: run make build" >&2; exit 1; }
if ! command -v supercronic >/dev/null; then
	echo "bench/notify.sh: installing supercronic v0.2.48" >&2
	go install github.com/aptible/supercronic@v0.2.48
fi

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
percentile() { sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END { i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; printf "%.2f", a[i] }'; }

# The hung receiver: accepts, reads, never answers, never closes.
python3 -u -c '
import socket, threading, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(512)
print(s.getsockname()[1], flush=True)
held = []
def hold(c):
    held.append(c)
    while c.recv(65536): pass
while True:
    c, _ = s.accept()
    threading.Thread(target=hold, args=(c,), daemon=True).start()
' > "$work/port" &
pids+=($!)
while [ ! -s "$work/port" ]; do sleep 0.05; done
hung="http://127.0.0.1:$(cat "$work/port")"

echo "notify bench: $FIRES s, three schedulers side by side, receiver $hung never answers" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
job='date +%s.%N >> '
: > "$work/plain.fires"; : > "$work/hung.fires"; : > "$work/super.fires"
"$GOCRON" --status-addr off "* * * * * *" -- sh -c "$job $work/plain.fires" >/dev/null 2>&1 &
pids+=($!)
"$GOCRON" --status-addr 127.0.0.1:0 --log-format json --ping-url "$hung/ping/bench" --webhook-url "$hung/hook" \
	--notify-on failure,recovery,success --notify-timeout 2s --notify-retries 1 \
	"* * * * * *" -- sh -c "$job $work/hung.fires" >/dev/null 2>"$work/hung.log" &
hpid=$!; pids+=("$hpid")
echo "* * * * * * * $job $work/super.fires; curl -s -m 10 -o /dev/null $hung/ping/super" > "$work/crontab"
supercronic -quiet "$work/crontab" >/dev/null 2>&1 &
pids+=($!)
while [ "$(wc -l < "$work/hung.fires")" -lt 2 ]; do sleep 0.1; done
rss_first=$(kb "$hpid" VmRSS)
rss=()
for part in 1 2 3 4; do
	while [ "$(wc -l < "$work/hung.fires")" -lt "$((FIRES * part / 4 + 1))" ]; do sleep 0.2; done
	rss+=("$(mb "$(kb "$hpid" VmRSS)")")
done
while [ "$(wc -l < "$work/plain.fires")" -lt "$((FIRES + 1))" ]; do sleep 0.2; done
hwm=$(kb "$hpid" VmHWM)
addr=$(sed -n 's/.*"msg":"status listening","addr":"\([^"]*\)".*/\1/p' "$work/hung.log" | head -1)
counters=$(curl -s "http://$addr/metrics" | awk '/^gocron_notifications_total/ { sub(/gocron_notifications_total/, ""); printf "%s%s", sep, $0; sep = ", " }')
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done

lat() { tail -n +2 "$1" | head -n "$FIRES" | awk '{ f = $1 - int($1); printf "%.3f\n", f * 1000 }' > "$1.ms"; }
for f in plain hung super; do lat "$work/$f.fires"; done
row() { printf '| %s | %s / %s ms | %s of %s |\n' "$1" "$(percentile "$work/$2.fires.ms" 50)" "$(percentile "$work/$2.fires.ms" 99)" "$(tail -n +2 "$work/$2.fires" | head -n "$FIRES" | wc -l)" "$FIRES"; }

printf '\n| scheduler | fire latency p50 / p99 | fires |\n| --- | --- | --- |\n'
row "go-cron, no notifications" plain
row "go-cron, ping + webhook to a hung receiver" hung
row "supercronic v0.2.48 + curl -m 10 to the hung receiver" super
printf '\ngo-cron with the hung receiver (--notify-timeout 2s --notify-retries 1): RSS %s after the first fire, then %s after each quarter of %s fires (peak %s); notifications %s.\n' \
	"$(mb "$rss_first")" "${rss[*]}" "$FIRES" "$(mb "$hwm")" "$counters"
printf 'Load average %s before, %s after (%s cores).\n' "$load_before" "$load_after" "$(nproc)"
