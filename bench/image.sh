#!/usr/bin/env bash
# The image's size, both ways: one multicall binary (what `make rootfs`
# ships) and one binary per tool, beside the original image (about 25 MB)
# and the 20 MB target. Prints a Markdown table; assembles into build/size-*.
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
