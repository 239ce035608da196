#!/usr/bin/env bash
# The table of issue 18 (performance): every figure beside its peers,
# measured in this run, with the load average at the start and end of each
# row. The tools are the ones the image ships: the multicall binary of an
# assembled rootfs (rootfs/assemble), called as gof3r, etcd-backup, go-cron.
#   etcd save -> S3       Debian's etcd 3.4 filled to about 290 MB, ROUNDS
#                         rounds of: etcdctl snapshot save to a file, gof3r
#                         put -p of that file, etcd-backup save to S3 (one
#                         streaming pass); the ratio is etcd-backup's time
#                         over the slower of the two others, round by round,
#                         beside its floor: the CPU seconds etcd-backup, etcd
#                         and versitygw used in the pass, over the cores
#   gof3r put/get         1 GiB of random bytes, beside s5cmd v2.3.0, rounds
#                         of the peer then ours
#   PID 1 RSS             the rootfs run as a container (rootfs/run: go-cron
#                         is PID 1), idle and after 2,000 GET /metrics,
#                         beside supercronic v0.2.48 and the standalone
#                         go-cron binary, each idle the same way; each RSS
#                         with its anonymous and file-backed parts
#   fire latency          FIRES fires every second (a job recording its
#                         start with date +%s.%N), the multicall binary's
#                         go-cron beside supercronic, side by side
# Needs root for rootfs/run, and what `make deps` installs (etcd, etcdctl,
# versitygw, curl). ISSUE18_ROUNDS (3), ISSUE18_MIB (1024), ISSUE18_ETCD_MIB
# (256: what internal/etcdload writes), ISSUE18_GOF3R_ROUNDS (3), ISSUE18_FIRES
# (120: with fewer than 100, the p99 is the slowest fire) scale it down.
set -euo pipefail
cd "$(dirname "$0")/.."
gopath=$(go env GOPATH)
export PATH="$gopath/bin:$PATH" CGO_ENABLED=0 ETCDCTL_API=3
ROUNDS=${ISSUE18_ROUNDS:-3}
MIB=${ISSUE18_MIB:-1024}
ETCD_MIB=${ISSUE18_ETCD_MIB:-256}
FIRES=${ISSUE18_FIRES:-120}
GROUNDS=${ISSUE18_GOF3R_ROUNDS:-3}
REQUESTS=2000

die() { printf 'bench/issue18.sh: %s\n' "$*" >&2; exit 1; }
for p in versitygw etcd etcdctl curl; do command -v "$p" >/dev/null || die "$p is not installed: run make deps"; done
[ "$(id -u)" = 0 ] || die "needs root (rootfs/run runs the rootfs as a container)"

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "bench/issue18.sh: building (rootfs, peers)" >&2
GOWORK=off go build -o "$work/measure" bench/gof3r/measure.go
go build -trimpath -o "$work/etcdload" ./etcd-backup/internal/etcdload
rootfs/assemble "$work/rootfs" 2>/dev/null
bin=$work/rootfs/usr/local/bin # gof3r, etcd-backup, go-cron: symlinks to the multicall binary
go build -trimpath -tags grpcnotrace -ldflags '-s -w' -o "$work/go-cron-alone" ./go-cron
mkdir -p "$work/s5cmd"
(cd "$work/s5cmd" && export GOWORK=off && go mod init peer && go get github.com/peak/s5cmd/v2@v2.3.0 &&
	go build -trimpath -ldflags '-s -w' -o "$work/s5cmd-bin" github.com/peak/s5cmd/v2) >"$work/s5cmd.log" 2>&1 ||
	die "building s5cmd failed: $(tail -3 "$work/s5cmd.log")"
command -v supercronic >/dev/null || go install github.com/aptible/supercronic@v0.2.48
s5cmd=$work/s5cmd-bin

port() { "$work/measure" -freeport; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
wait_tcp() { # PORT: until something listens (10 s)
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
	die "nothing listens on port $1"
}
# m LABEL CMD...: runs CMD under measure; sets secs, rss (MiB), cpu.
m() {
	local label=$1 code
	shift
	"$work/measure" -o "$work/m" "$@" >"$work/out" 2>"$work/err" </dev/null || true
	read -r secs rss code cpu <"$work/m"
	[ "$code" = 0 ] || die "$label failed (exit $code): $(head -3 "$work/err")"
	rss=$((rss / 1024))
}
# mpipe LABEL CMD...: the same, fed the test data through a pipe.
mpipe() {
	local label=$1 code
	shift
	# shellcheck disable=SC2002 # stdin must be a pipe, not a file
	cat "$work/data" | "$work/measure" -o "$work/m" "$@" >"$work/out" 2>"$work/err" || true
	read -r secs rss code _ <"$work/m"
	[ "$code" = 0 ] || die "$label failed (exit $code): $(head -3 "$work/err")"
	rss=$((rss / 1024))
}
# CPU seconds (user + system) a server process has used so far: the
# streaming pass makes etcd, versitygw and etcd-backup work at once, the
# peers one pair at a time; on 2 cores the sum bounds the wall time.
tck=$(getconf CLK_TCK)
server_cpu() { awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
range() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (lo == hi) printf "%s", lo; else printf "%s–%s", lo, hi }'; }
rows=()
row() { rows+=("| $1 | $2 | $3 | $4 | $5 → $6 |"); }

# --- S3 ------------------------------------------------------------------
s3port=$(port)
mkdir -p "$work/s3/bench"
export AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=benchsecret-$$ AWS_REGION=us-east-1
export AWS_S3_ENDPOINT=http://127.0.0.1:$s3port
versitygw --port "127.0.0.1:$s3port" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" posix "$work/s3" >"$work/versitygw.log" 2>&1 &
vgwpid=$!
pids+=("$vgwpid")
wait_tcp "$s3port"

# --- etcd save -> S3 -------------------------------------------------------
echo "bench/issue18.sh: etcd save -> S3, $ROUNDS rounds" >&2
cport=$(port) pport=$(port)
etcd --data-dir "$work/etcd" --name b --quota-backend-bytes $((8 << 30)) \
	--listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
	--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "b=http://127.0.0.1:$pport" --log-level error --logger zap >"$work/etcd.log" 2>&1 &
epid=$!
pids+=("$epid")
ep=http://127.0.0.1:$cport
wait_tcp "$cport"
"$work/etcdload" -endpoints "$ep" -size "$ETCD_MIB" >/dev/null
l0=$(load)
: >"$work/t_ctl"; : >"$work/t_put"; : >"$work/t_eb"; : >"$work/ratio"; : >"$work/floor"; : >"$work/cpu"; ebrss=0
cores=$(nproc)
for r in $(seq "$ROUNDS"); do
	rm -f "$work/ctl.db"
	e0=$(server_cpu "$epid")
	m "etcdctl snapshot save" etcdctl --endpoints "$ep" snapshot save "$work/ctl.db"
	t_ctl=$secs c_ctl=$cpu
	e1=$(server_cpu "$epid") v1=$(server_cpu "$vgwpid")
	m "gof3r put -p" "$bin/gof3r" put -b bench -k "ctl-$r.db" -p "$work/ctl.db"
	t_put=$secs c_put=$cpu
	e2=$(server_cpu "$epid") v2=$(server_cpu "$vgwpid")
	m "etcd-backup save" "$bin/etcd-backup" save --endpoints "$ep" "s3://bench/etcd-$r.db"
	t_eb=$secs c_eb=$cpu
	e3=$(server_cpu "$epid") v3=$(server_cpu "$vgwpid")
	awk -v a="$c_ctl" -v e="$e0" -v f="$e1" -v b="$c_put" -v v="$v1" -v w="$v2" -v c="$c_eb" -v g="$e2" -v h="$e3" -v x="$v2" -v y="$v3" \
		'BEGIN { printf "%.1f+%.1f %.1f+%.1f %.1f+%.1f+%.1f\n", a, f - e, b, w - v, c, h - g, y - x }' >>"$work/cpu"
	[ "$rss" -gt "$ebrss" ] && ebrss=$rss
	echo "$t_ctl" >>"$work/t_ctl"; echo "$t_put" >>"$work/t_put"; echo "$t_eb" >>"$work/t_eb"
	awk -v e="$t_eb" -v a="$t_ctl" -v b="$t_put" 'BEGIN { printf "%.2f\n", e / (a > b ? a : b) }' >>"$work/ratio"
	# The floor: the pass cannot take less than its three processes' CPU
	# seconds over the cores, whatever it overlaps; over the slower peer.
	awk -v c="$c_eb" -v g="$e2" -v h="$e3" -v x="$v2" -v y="$v3" -v n="$cores" -v a="$t_ctl" -v b="$t_put" \
		'BEGIN { printf "%.2f\n", (c + h - g + y - x) / n / (a > b ? a : b) }' >>"$work/floor"
done
dbmb=$(awk -v b="$(stat -c %s "$work/ctl.db")" 'BEGIN { printf "%.0f", b / 1e6 }')
row "etcd save → S3, one streaming pass ($dbmb MB database, $ROUNDS rounds)" \
	"$(range <"$work/t_eb") s, $ebrss MB peak RSS" \
	"etcdctl save to a file $(range <"$work/t_ctl") s; gof3r put -p of that file $(range <"$work/t_put") s" \
	"≤ 1.2 × the slower of those two, ≤ 64 MB: $(range <"$work/ratio") × (the floor its CPU seconds set on $cores cores: $(range <"$work/floor") ×)" "$l0" "$(load)"
cpu_rows=$(awk '{ printf "%s%s: etcdctl+etcd %s, gof3r+versitygw %s, etcd-backup+etcd+versitygw %s", (NR > 1 ? "; " : ""), "round " NR, $1, $2, $3 }' "$work/cpu")
kill "$epid"; wait "$epid" 2>/dev/null || true
rm -rf "$work/etcd" "$work/ctl.db" "${work:?}"/s3/bench/*

# --- gof3r put and get, 1 GiB ------------------------------------------------
echo "bench/issue18.sh: gof3r put and get, $MIB MiB" >&2
head -c $((MIB << 20)) /dev/urandom >"$work/data"
s5=("$s5cmd" --endpoint-url "$AWS_S3_ENDPOINT")
# GROUNDS rounds, the peer then ours in each: one run of a 1 GiB upload
# swings by a second with the disk's writeback of the one before it.
# gof3r_row LABEL TARGET PEER-LABEL PEER-RUN OUR-RUN: PEER-RUN and OUR-RUN
# are functions that run the command under m or mpipe.
gof3r_row() {
	local label=$1 target=$2 plabel=$3 prun=$4 orun=$5 l0 pt=() ot=() prss=0 orss=0
	l0=$(load)
	for _ in $(seq "$GROUNDS"); do
		"$prun"; pt+=("$secs"); [ "$rss" -gt "$prss" ] && prss=$rss
		"$orun"; ot+=("$secs"); [ "$rss" -gt "$orss" ] && orss=$rss
	done
	row "$label" "$(printf '%s\n' "${ot[@]}" | range) s, $orss MB" \
		"$plabel $(printf '%s\n' "${pt[@]}" | range) s, $prss MB" "$target" "$l0" "$(load)"
}
s5_pipe() { mpipe "s5cmd pipe" "${s5[@]}" pipe s3://bench/s5-pipe; }
our_pipe() { mpipe "gof3r put (pipe)" "$bin/gof3r" put -b bench -k pipe; }
s5_cp() { m "s5cmd cp" "${s5[@]}" cp "$work/data" s3://bench/s5-file; }
our_put() { m "gof3r put -p" "$bin/gof3r" put -b bench -k file -p "$work/data"; }
s5_cat() { m "s5cmd cat" "${s5[@]}" cat s3://bench/s5-file; }
our_get() { m "gof3r get" "$bin/gof3r" get -b bench -k file; }
gof3r_row "gof3r put from a pipe, $MIB MiB ($GROUNDS rounds)" "≤ s5cmd's time at ≤ 32 MB" "s5cmd \`pipe\`" s5_pipe our_pipe
gof3r_row "gof3r put from a file, $MIB MiB ($GROUNDS rounds)" "≤ s5cmd's time, ≤ 32 MB" "s5cmd \`cp\`" s5_cp our_put
gof3r_row "gof3r get to a file, $MIB MiB ($GROUNDS rounds)" "keep" "s5cmd \`cat\`" s5_cat our_get
rm -f "$work/data" "${work:?}"/s3/bench/*

# --- go-cron's RSS as PID 1 ----------------------------------------------------
echo "bench/issue18.sh: go-cron RSS as PID 1" >&2
# rss PID: "RSS(anon+file)" in MB. Anon is the process's own memory (heap,
# stacks, written data); file is pages of its executable and libraries it
# has mapped from the page cache, shared with every process that maps them.
# The kernel maps up to 64 KB of cached neighbours on each fault of a file
# page (fault-around), so a few pages touched count for many.
rss() {
	awk '$1 == "VmRSS:" { t = $2 } $1 == "RssAnon:" { a = $2 } $1 == "RssFile:" || $1 == "RssShmem:" { f += $2 }
		END { printf "%.1f(%.1f+%.1f)", t / 1024, a / 1024, f / 1024 }' "/proc/$1/status"
}
# idle_and_loaded PID PORT: "idle after_requests" (MB) of the go-cron at PID.
idle_and_loaded() {
	for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$2/healthz" && break; sleep 0.1; done
	sleep 2 # settle: a measurement, not a synchronisation
	local idle
	idle=$(rss "$1")
	curl -sf -o /dev/null "http://127.0.0.1:$2/metrics?i=[1-$REQUESTS]"
	echo "$idle $(rss "$1")"
}
l0=$(load)
p1=$(port)
JOB=true GOCRON_SCHEDULE='@every 1h' rootfs/run "$work/rootfs" -p "$p1" >"$work/container.log" 2>&1 &
runpid=$!
pids+=("$runpid")
pid1=""
child() { local c; read -r c _ < <(cat /proc/"$1"/task/*/children 2>/dev/null) || true; echo "${c:-}"; }
for _ in $(seq 100); do
	u=$(child "$runpid") # unshare
	[ -n "$u" ] && pid1=$(child "$u")
	[ -n "$pid1" ] && [ "$(readlink "/proc/$pid1/exe" 2>/dev/null)" = "$work/rootfs/usr/local/bin/cronbox" ] && break
	pid1=""
	sleep 0.1
done
[ -n "$pid1" ] || die "no PID 1 in the container: $(cat "$work/container.log")"
read -r c_idle c_load < <(idle_and_loaded "$pid1" "$p1")
kill -TERM "$runpid"; wait "$runpid" 2>/dev/null || true
p2=$(port)
GOCRON_SCHEDULE='@every 1h' "$work/go-cron-alone" --status-addr "127.0.0.1:$p2" -- true >/dev/null 2>&1 &
apid=$!
pids+=("$apid")
read -r a_idle a_load < <(idle_and_loaded "$apid" "$p2")
kill "$apid"; wait "$apid" 2>/dev/null || true
echo "0 0 1 1 * true" >"$work/crontab.idle"
supercronic "$work/crontab.idle" >/dev/null 2>&1 &
spid=$!
pids+=("$spid")
sleep 3
s_idle=$(rss "$spid")
kill "$spid"; wait "$spid" 2>/dev/null || true
row "go-cron idle RSS as PID 1 (the rootfs as a container), MB (anon + file)" "$c_idle ($c_load after $REQUESTS \`/metrics\`)" \
	"supercronic $s_idle; go-cron's own binary $a_idle ($a_load after $REQUESTS)" "≤ 8 MB with the image ≤ 20 MB ($(du -sb "$work/rootfs" | awk '{ printf "%.2f MB", $1 / 1e6 }') now)" "$l0" "$(load)"

# --- fire latency ------------------------------------------------------------
echo "bench/issue18.sh: fire latency, $FIRES fires (about $((FIRES + 3)) s)" >&2
l0=$(load)
job='date +%s.%N >> '
: >"$work/gocron.fires"; : >"$work/super.fires"
"$bin/go-cron" --status-addr 127.0.0.1:0 "* * * * * *" -- sh -c "$job $work/gocron.fires" >/dev/null 2>&1 &
gpid=$!
pids+=("$gpid")
echo "* * * * * * * $job $work/super.fires" >"$work/crontab.fires"
supercronic -quiet "$work/crontab.fires" >/dev/null 2>&1 &
spid=$!
pids+=("$spid")
while [ "$(wc -l <"$work/gocron.fires")" -le "$FIRES" ] || [ "$(wc -l <"$work/super.fires")" -le "$FIRES" ]; do sleep 0.5; done
kill "$gpid" "$spid"; wait "$gpid" "$spid" 2>/dev/null || true
# ms after the second; the first fire may come from a partial second
lat() { tail -n +2 "$1" | head -n "$FIRES" | awk '{ printf "%.3f\n", ($1 - int($1)) * 1000 }' | sort -n; }
pct() { awk -v p="$1" '{ a[NR] = $1 } END { i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; printf "%.1f", a[i] }'; }
g=$(lat "$work/gocron.fires"); s=$(lat "$work/super.fires")
row "fire latency after the second, $FIRES fires" \
	"p50 $(pct 50 <<<"$g") ms, p99 $(pct 99 <<<"$g") ms, max $(pct 100 <<<"$g") ms" \
	"supercronic p50 $(pct 50 <<<"$s") ms, p99 $(pct 99 <<<"$s") ms, max $(pct 100 <<<"$s") ms" \
	"p99 ≤ 5 ms, below supercronic's" "$l0" "$(load)"

printf '\n%s cores; load average at the start → end of each row\n\n' "$(nproc)"
echo "| figure | cronbox | peers in the same run | target, and where we are | load average |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
printf '\nCPU seconds (user + system) of each etcd round, the client and the servers it made work: %s\n' "$cpu_rows"
