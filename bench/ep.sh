#!/usr/bin/env bash
# shellcheck disable=SC2016 # the ${...} in single quotes are templates, meant literally
# ep beside its peers: render the same 500 config files (3.3 KB, 24
# references each) with
#   - ep, one process, all files resolved, then written atomically;
#   - GNU envsubst (gettext-base) with an explicit variable list, so bare $VAR
#     is left alone as ep does; one process per file, no atomicity;
#   - a8m/envsubst v1.4.3's command, one process per file (it also
#     substitutes bare $VAR, so its output differs; timing only).
# Prints wall time and peak RSS (of the largest single process) of each,
# measured in this run. ep's wall time is mostly the fsync of each file.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ep="$work/ep"
go build -trimpath -ldflags '-s -w' -o "$ep" ./envplate
go build -trimpath -ldflags '-s -w' -tags noetcd -o "$work/ep-noetcd" ./envplate
GOBIN="$work/gobin" GOWORK=off go install github.com/a8m/envsubst/cmd/envsubst@v1.4.3
a8m="$work/gobin/envsubst"
gnu=$(command -v envsubst || true)
case "$gnu" in "$work"/*|"") gnu=/usr/bin/envsubst ;; esac

export ES_HOST_URL=http://es.internal:9200 AWS_S3_BUCKET=backups ES_REPOSITORY=s3_repo
files=500
mkfiles() {
	rm -rf "$work/t" && mkdir -p "$work/t"
	line='url=${ES_HOST_URL}/_snapshot/${ES_REPOSITORY:-x} bucket=${AWS_S3_BUCKET} # keep $HOME and $$ as they are ........'
	body=""
	for _ in $(seq 1 8); do body+="$line"$'\n'"plain text line without references, plain text line without references"$'\n'"$line"$'\n'"$line"$'\n'; done
	for i in $(seq 1 "$files"); do printf '%s' "$body" >"$work/t/f$i.conf"; done
}
measure() { # name, command...
	local name=$1; shift
	mkfiles
	/usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null
	read -r secs kb <"$work/time"
	printf '| %-44s | %6.2f s | %6.1f MB |\n' "$name" "$secs" "$(echo "$kb/1024" | bc -l)"
}
mkfiles
echo "rendering $files files of $(wc -c <"$work/t/f1.conf") bytes, 24 references each"
printf '| %-44s | %8s | %9s |\n' tool wall "peak RSS"
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" ---------- -----------
measure "ep (one process, atomic)" "$ep" "$work/t/*.conf"
mkfiles
grep -q 'http://es.internal:9200' "$work/t/f1.conf" && { echo "bench: setup broken"; exit 1; }
"$ep" "$work/t/*.conf"
if ! grep -q 'http://es.internal:9200/_snapshot/s3_repo' "$work/t/f1.conf"; then echo "bench: ep did not render"; exit 1; fi
measure "ep -tags noetcd (no etcd client linked)" "$work/ep-noetcd" "$work/t/*.conf"
if [ ! -x "$gnu" ]; then echo "| GNU envsubst: not installed (gettext-base) |"; else
measure "GNU envsubst (a process per file)" bash -c 'for f in "$1"/t/*.conf; do "$2" '"'"'${ES_HOST_URL} ${ES_REPOSITORY} ${AWS_S3_BUCKET}'"'"' <"$f" >"$f.tmp" && mv "$f.tmp" "$f"; done' _ "$work" "$gnu"
fi
measure "a8m/envsubst v1.4.3 (a process per file)" bash -c 'for f in "$1"/t/*.conf; do "$2" -i "$f" -o "$f.tmp" && mv "$f.tmp" "$f"; done' _ "$work" "$a8m"
echo "(GNU envsubst has no defaults: \${ES_REPOSITORY:-x} stays as it is; a8m also rewrites \$HOME and \$\$)"
