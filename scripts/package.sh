#!/usr/bin/env bash
# Packages a built binary as the release asset the action downloads: `gitops-promote-VERSION-TARGET.gz`, the
# binary alone, gzip-compressed (the default level: -9 saves 0.5 % and takes three times as long; no name or
# time stored, so the same binary gives the same bytes), and its checksum line `NAME.gz.sha256` in sha256sum
# format. release.yml concatenates those lines into SHA256SUMS, the file the action's wrapper (action/main.js)
# verifies every download against. The tests package the binary under test with this same script.
# Usage: scripts/package.sh BINARY TARGET VERSION OUTDIR
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 BINARY TARGET VERSION OUTDIR" >&2; exit 2; }
binary=$1 target=$2 version=$3 outdir=$4
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || { echo "version must look like v1.2.3: $version" >&2; exit 2; }
[[ $target =~ ^[a-z0-9_]+(-[a-z0-9_]+)+$ ]] || { echo "not a target triple: $target" >&2; exit 2; }
mkdir -p "$outdir"
asset="gitops-promote-$version-$target.gz"
gzip -n -c "$binary" >"$outdir/$asset"
if command -v sha256sum >/dev/null; then
  sum=$(sha256sum "$outdir/$asset" | cut -d' ' -f1)
else
  sum=$(shasum -a 256 "$outdir/$asset" | cut -d' ' -f1) # macOS
fi
printf '%s  %s\n' "$sum" "$asset" >"$outdir/$asset.sha256"
echo "$outdir/$asset"
