#!/usr/bin/env bash
# etcd-backup beside its peers, on a real etcd (Debian's 3.4) holding about
# 256 MiB and then 1 GiB (quota raised, filled by etcd-backup/internal/etcdload
# with 1000 KiB values of Kubernetes-like JSON records, which compress about
# as real etcd data does), all measured in this run:
#   - etcd-backup save to versitygw: one streaming pass, trailer checked, no
#     local file (S3 checks the object's CRC64NVME; no server-side copy);
#     stored as it is, compressed with zstd, and compressed and encrypted
#     with age (zstd+age);
#   - etcd-backup save to a local file (temp name, fsync, rename);
#   - etcdctl snapshot save to a local file (fsync, no check until restore);
#   - etcdctl snapshot save, then gof3r put of that file;
#   - etcdctl snapshot save, zstd, age, gof3r put: the same zstd+age backup
#     made with the stock tools, as separate steps;
#   - gof3r put of the same snapshot from a pipe: the S3 package's stream
#     path alone, which bounds what any streamed upload costs here.
# Each is run twice (etcd-backup's three ways of storing: three rounds,
# interleaved); the faster run is shown, with the 1-minute load average when
# it started (other work shares the machine). Targets: the S3
# streaming pass within 1.1x of etcdctl's local save; zstd+age within 1.15x
# of the plain save; etcd-backup's peak RSS under 64 MB whatever the
# database size. The compression ratio is the snapshot's size over the
# stored object's.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0 ETCDCTL_API=3
gopath=$(go env GOPATH)
export PATH="$PATH:$gopath/bin"
sizes=${ETCD_BACKUP_BENCH_SIZES:-256 1024}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for p in etcd etcdctl versitygw age age-keygen zstd bc; do command -v "$p" >/dev/null || { echo "bench: $p is not installed (make deps)"; exit 1; }; done
eb=$work/etcd-backup
go build -trimpath -ldflags '-s -w' -o "$eb" ./etcd-backup
go build -trimpath -o "$work/etcdload" ./etcd-backup/internal/etcdload
gof3r=$work/gof3r
go build -trimpath -ldflags '-s -w' -o "$gof3r" ./gof3r
port() { "$work/etcdload" -freeport; }
age-keygen -o "$work/key.txt" 2>/dev/null
recipient=$(age-keygen -y "$work/key.txt")
wait_for() { # seconds, command...
	local n=$(($1 * 10)); shift
	until "$@" >/dev/null 2>&1; do n=$((n - 1)); [ "$n" -gt 0 ] || return 1; sleep 0.1; done
}

# versitygw: the S3 server.
s3port=$(port)
mkdir -p "$work/s3/bench"
export AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=benchsecret AWS_REGION=us-east-1
export AWS_S3_ENDPOINT=http://127.0.0.1:$s3port
versitygw --port "127.0.0.1:$s3port" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" posix "$work/s3" >"$work/s3.log" 2>&1 &
pids+=($!)
wait_for 10 bash -c "echo >/dev/tcp/127.0.0.1/$s3port"

measure() { # label, command... ; prints "secs rss_mb load1"
	local label=$1 best="" rss=0 load=""
	shift
	for _ in 1 2; do
		rm -f "$work"/out.db "$work"/out.db.sha256 "$work"/ctl.db*; rm -rf "${work:?}"/s3/bench/*
		read -r l1 _ </proc/loadavg
		/usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/cmd.log" 2>&1 || { echo "bench: $label failed:" >&2; cat "$work/cmd.log" >&2; return 1; }
		read -r secs kb <"$work/time"
		if [ -z "$best" ] || [ "$(echo "$secs < $best" | bc)" = 1 ]; then best=$secs load=$l1; cp "$work/cmd.log" "$work/$label.log"; fi
		[ "$kb" -gt "$rss" ] && rss=$kb
	done
	echo "$best $((rss / 1024)) $load"
}

measure1() { # label, command... ; one run; prints "secs rss_mb load1"
	local label=$1
	shift
	rm -rf "${work:?}"/s3/bench/*
	read -r l1 _ </proc/loadavg
	/usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/$label.log" 2>&1 || { echo "bench: $label failed:" >&2; cat "$work/$label.log" >&2; return 1; }
	read -r secs kb <"$work/time"
	echo "$secs $((kb / 1024)) $l1"
}

row() { printf '| %-9s | %-50s | %7.2f s | %6s MB | %5s |\n' "$1" "$2" "$3" "$4" "$5"; }
note() { printf '| %-9s | %-50s | %s |\n' "$1" "$2" "$3"; }
results=()
for size in $sizes; do
	cport=$(port) pport=$(port)
	rm -rf "$work/etcd"
	etcd --data-dir "$work/etcd" --name b --quota-backend-bytes $((8 << 30)) \
		--listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
		--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "b=http://127.0.0.1:$pport" --log-level error --logger zap >"$work/etcd.log" 2>&1 &
	epid=$!
	pids+=("$epid")
	ep=http://127.0.0.1:$cport
	wait_for 30 etcdctl --endpoints "$ep" endpoint health
	"$work/etcdload" -endpoints "$ep" -size "$size" -values objects
	dbsize=$(stat -c %s "$work/etcd/member/snap/db")
	label="$((dbsize >> 20)) MiB"

	read -r t_ctl r_ctl l_ctl < <(measure etcdctl etcdctl --endpoints "$ep" snapshot save "$work/ctl.db")
	# The three ways of storing, interleaved (plain, zstd, zstd+age, three
	# rounds) so that each sees the same load; the best of each is shown.
	t_s3="" r_s3=0 l_s3="" t_zst="" r_zst=0 l_zst="" t_age="" r_age=0 l_age=""
	for _ in 1 2 3; do
		read -r t r l < <(measure1 eb-s3 env ETCD_BACKUP_LOG_LEVEL=debug "$eb" save --endpoints "$ep" "s3://bench/etcd.db")
		if [ -z "$t_s3" ] || [ "$(echo "$t < $t_s3" | bc)" = 1 ]; then t_s3=$t l_s3=$l; fi
		[ "$r" -gt "$r_s3" ] && r_s3=$r
		read -r t r l < <(measure1 eb-zst "$eb" save --endpoints "$ep" --compress zstd "s3://bench/etcd.db.zst")
		if [ -z "$t_zst" ] || [ "$(echo "$t < $t_zst" | bc)" = 1 ]; then t_zst=$t l_zst=$l; fi
		[ "$r" -gt "$r_zst" ] && r_zst=$r
		read -r t r l < <(measure1 eb-age "$eb" save --endpoints "$ep" --compress zstd --encrypt-to "$recipient" "s3://bench/etcd.db.zst.age")
		if [ -z "$t_age" ] || [ "$(echo "$t < $t_age" | bc)" = 1 ]; then t_age=$t l_age=$l; fi
		[ "$r" -gt "$r_age" ] && r_age=$r
	done
	# The S3 package logs the parts and how long the upload took.
	split=$(grep -o 'parts=[0-9]* elapsed=[0-9.]*[mµ]*s' "$work/eb-s3.log" | tail -1 || true)
	# save's JSON result: the snapshot's size and what was stored.
	snap_size=$(grep -o '"size":[0-9]*' "$work/eb-zst.log" | head -1 | cut -d: -f2)
	stored_size=$(grep -o '"stored_size":[0-9]*' "$work/eb-zst.log" | head -1 | cut -d: -f2)
	read -r t_file r_file l_file < <(measure eb-file "$eb" save --endpoints "$ep" "$work/out.db")
	# The peer pair: etcdctl to a local file, then gof3r uploads it. Peak RSS
	# is the largest single process of the two.
	t_pair="" r_pair="" l_pair=""
	# shellcheck disable=SC2016 # $1.. are bash -c's arguments
	read -r t_pair r_pair l_pair < <(measure pair bash -c 'etcdctl --endpoints "$1" snapshot save "$2" && "$3" put -b bench -k ctl.db -p "$2"' _ "$ep" "$work/ctl.db" "$gof3r") || true
	# The same zstd+age backup with the stock tools, one step after the
	# other (zstd's default level 3, as ours; age to the same recipient).
	t_stock="" r_stock="" l_stock=""
	# shellcheck disable=SC2016
	read -r t_stock r_stock l_stock < <(measure stock bash -c 'etcdctl --endpoints "$1" snapshot save "$2" && zstd -q "$2" -o "$2.zst" && age -r "$4" -o "$2.zst.age" "$2.zst" && "$3" put -b bench -k ctl.db.zst.age -p "$2.zst.age"' _ "$ep" "$work/ctl.db" "$gof3r" "$recipient") || true
	# The S3 package's stream path alone, fed the same snapshot from a pipe:
	# what any streamed upload costs here.
	etcdctl --endpoints "$ep" snapshot save "$work/snap.db" >/dev/null 2>&1
	t_pipe="" r_pipe="" l_pipe=""
	# shellcheck disable=SC2016
	read -r t_pipe r_pipe l_pipe < <(measure pipe bash -c 'cat "$1" | "$2" put -b bench -k pipe.db' _ "$work/snap.db" "$gof3r") || true
	dbsize=$(stat -c %s "$work/snap.db" 2>/dev/null || echo "$dbsize")
	rm -f "$work/snap.db"
	label="$((dbsize >> 20)) MiB"
	kill "$epid"; wait "$epid" 2>/dev/null || true

	results+=("$(row "$label" "etcdctl snapshot save (local file)" "$t_ctl" "$r_ctl" "$l_ctl")")
	results+=("$(row "$label" "etcd-backup save -> versitygw (streamed)" "$t_s3" "$r_s3" "$l_s3")")
	results+=("$(row "$label" "etcd-backup save --compress zstd -> versitygw" "$t_zst" "$r_zst" "$l_zst")")
	results+=("$(row "$label" "etcd-backup save zstd + age -> versitygw" "$t_age" "$r_age" "$l_age")")
	results+=("$(row "$label" "etcd-backup save -> local file" "$t_file" "$r_file" "$l_file")")
	if [ -n "${t_pair:-}" ]; then
		results+=("$(row "$label" "etcdctl snapshot save + gof3r put" "$t_pair" "$r_pair" "$l_pair")")
	else
		results+=("$(note "$label" "etcdctl snapshot save + gof3r put" "failed")")
	fi
	if [ -n "${t_stock:-}" ]; then
		results+=("$(row "$label" "etcdctl save + zstd + age + gof3r put (steps)" "$t_stock" "$r_stock" "$l_stock")")
	else
		results+=("$(note "$label" "etcdctl save + zstd + age + gof3r put (steps)" "failed")")
	fi
	if [ -n "${t_pipe:-}" ]; then
		results+=("$(row "$label" "cat snapshot | gof3r put (S3 stream path only)" "$t_pipe" "$r_pipe" "$l_pipe")")
	fi
	results+=("$(note "$label" "ratio etcd-backup->S3 / etcdctl local" "$(printf '%.2f' "$(echo "scale=3; $t_s3 / $t_ctl" | bc)")x")")
	results+=("$(note "$label" "ratio zstd+age / plain save (target <= 1.15)" "$(printf '%.2f' "$(echo "scale=3; $t_age / $t_s3" | bc)")x")")
	if [ -n "${snap_size:-}" ] && [ -n "${stored_size:-}" ] && [ "$stored_size" -gt 0 ]; then
		results+=("$(note "$label" "compression ratio (snapshot / stored, zstd)" "$(printf '%.2f' "$(echo "scale=3; $snap_size / $stored_size" | bc)")x ($((snap_size >> 20)) MiB -> $((stored_size >> 20)) MiB)")")
	fi
	results+=("$(note "$label" "etcd-backup->S3 split (S3 package log)" "${split:-n/a}")")
done
printf '| %-9s | %-50s | %9s | %9s | %5s |\n' "database" "tool" "wall" "peak RSS" "load"
printf '|%s|%s|%s|%s|%s|\n' ----------- ---------------------------------------------------- ----------- ----------- -------
printf '%s\n' "${results[@]}"
