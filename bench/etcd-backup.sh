#!/usr/bin/env bash
# etcd-backup beside its peers, on a real etcd (Debian's 3.4) holding about
# 256 MiB and then 1 GiB (quota raised, filled with 1000 KiB values by
# etcd-backup/internal/etcdload), all measured in this run:
#   - etcd-backup save to versitygw: one streaming pass, trailer checked, no
#     local file (the S3 package stages a multipart upload and copies it to
#     the key with its SHA-256: one server-side copy is included);
#   - etcd-backup save to a local file (temp name, fsync, rename);
#   - etcdctl snapshot save to a local file (fsync, no check until restore);
#   - etcdctl snapshot save, then gof3r put of that file;
#   - gof3r put of the same snapshot from a pipe: the S3 package's stream
#     path alone, which bounds what any streamed upload costs here.
# Each is run twice; the faster run is shown. Targets: the S3 streaming pass
# within 1.1x of etcdctl's local save, and etcd-backup's peak RSS under 64 MB
# whatever the database size.
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
for p in etcd etcdctl versitygw; do command -v "$p" >/dev/null || { echo "bench: $p is not installed (make deps)"; exit 1; }; done
eb=$work/etcd-backup
go build -trimpath -ldflags '-s -w' -o "$eb" ./etcd-backup
go build -trimpath -o "$work/etcdload" ./etcd-backup/internal/etcdload
gof3r=$work/gof3r
go build -trimpath -ldflags '-s -w' -o "$gof3r" ./gof3r
port() { "$work/etcdload" -freeport; }
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

measure() { # label, command... ; prints "secs rss_mb"
	local label=$1 best="" rss=0
	shift
	for _ in 1 2; do
		rm -f "$work"/out.db "$work"/out.db.sha256 "$work"/ctl.db; rm -rf "${work:?}"/s3/bench/*
		/usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/cmd.log" 2>&1 || { echo "bench: $label failed:" >&2; cat "$work/cmd.log" >&2; return 1; }
		read -r secs kb <"$work/time"
		if [ -z "$best" ] || [ "$(echo "$secs < $best" | bc)" = 1 ]; then best=$secs; cp "$work/cmd.log" "$work/$label.log"; fi
		[ "$kb" -gt "$rss" ] && rss=$kb
	done
	echo "$best $((rss / 1024))"
}

row() { printf '| %-9s | %-46s | %7.2f s | %6s MB |\n' "$1" "$2" "$3" "$4"; }
note() { printf '| %-9s | %-46s | %s |\n' "$1" "$2" "$3"; }
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
	"$work/etcdload" -endpoints "$ep" -size "$size"
	dbsize=$(stat -c %s "$work/etcd/member/snap/db")
	label="$((dbsize >> 20)) MiB"

	read -r t_ctl r_ctl < <(measure etcdctl etcdctl --endpoints "$ep" snapshot save "$work/ctl.db")
	read -r t_s3 r_s3 < <(measure eb-s3 env ETCD_BACKUP_LOG_LEVEL=debug "$eb" save --endpoints "$ep" "s3://bench/etcd.db")
	# The S3 package logs the parts and how long the upload took (there is
	# no server-side copy any more: S3 checks the object's CRC64NVME).
	split=$(grep -o 'parts=[0-9]* elapsed=[0-9.]*[mµ]*s' "$work/eb-s3.log" | tail -1 || true)
	read -r t_file r_file < <(measure eb-file "$eb" save --endpoints "$ep" "$work/out.db")
	# The peer pair: etcdctl to a local file, then gof3r uploads it. Peak RSS
	# is the largest single process of the two.
	t_pair="" r_pair=""
	# shellcheck disable=SC2016 # $1.. are bash -c's arguments
	read -r t_pair r_pair < <(measure pair bash -c 'etcdctl --endpoints "$1" snapshot save "$2" && "$3" put -b bench -k ctl.db -p "$2"' _ "$ep" "$work/ctl.db" "$gof3r") || true
	# The S3 package's stream path alone, fed the same snapshot from a pipe:
	# what any streamed upload costs here.
	etcdctl --endpoints "$ep" snapshot save "$work/snap.db" >/dev/null 2>&1
	t_pipe="" r_pipe=""
	# shellcheck disable=SC2016
	read -r t_pipe r_pipe < <(measure pipe bash -c 'cat "$1" | "$2" put -b bench -k pipe.db' _ "$work/snap.db" "$gof3r") || true
	dbsize=$(stat -c %s "$work/snap.db" 2>/dev/null || echo "$dbsize")
	rm -f "$work/snap.db"
	label="$((dbsize >> 20)) MiB"
	kill "$epid"; wait "$epid" 2>/dev/null || true

	results+=("$(row "$label" "etcdctl snapshot save (local file)" "$t_ctl" "$r_ctl")")
	results+=("$(row "$label" "etcd-backup save -> versitygw (streamed)" "$t_s3" "$r_s3")")
	results+=("$(row "$label" "etcd-backup save -> local file" "$t_file" "$r_file")")
	if [ -n "${t_pair:-}" ]; then
		results+=("$(row "$label" "etcdctl snapshot save + gof3r put" "$t_pair" "$r_pair")")
	else
		results+=("$(note "$label" "etcdctl snapshot save + gof3r put" "failed")")
	fi
	if [ -n "${t_pipe:-}" ]; then
		results+=("$(row "$label" "cat snapshot | gof3r put (S3 stream path only)" "$t_pipe" "$r_pipe")")
	fi
	results+=("$(note "$label" "ratio etcd-backup->S3 / etcdctl local" "$(echo "scale=2; $t_s3 / $t_ctl" | bc)x")")
	results+=("$(note "$label" "etcd-backup->S3 split (S3 package log)" "${split:-n/a}")")
done
printf '| %-9s | %-46s | %9s | %9s |\n' "database" "tool" "wall" "peak RSS"
printf '|%s|%s|%s|%s|\n' ----------- ------------------------------------------------ ----------- -----------
printf '%s\n' "${results[@]}"
