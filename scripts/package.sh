#!/usr/bin/env bash
# Packages a built binary as the release asset the action downloads: `gitops-promote-VERSION-TARGET.gz` (`.exe.gz`
# on Windows), the binary alone, gzip-compressed (the default level: -9 saves 0.5 % and takes three times as
# long; no name or time stored, so the same binary gives the same bytes), and `ASSET.sha256` with two lines in
# sha256sum format: the asset's checksum and the binary's, under the name `gunzip` gives it. release.yml
# concatenates those files into SHA256SUMS, which the action's wrapper (action/main.js) checks every download
# and every cached copy against. The tests package the binary under test with this same script.
# Usage: scripts/package.sh BINARY TARGET VERSION OUTDIR
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 BINARY TARGET VERSION OUTDIR" >&2; exit 2; }
binary=$1 target=$2 version=$3 outdir=$4
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || { echo "version must look like v1.2.3: $version" >&2; exit 2; }
[[ $target =~ ^[a-z0-9_]+(-[a-z0-9_]+)+$ ]] || { echo "not a target triple: $target" >&2; exit 2; }
mkdir -p "$outdir"
exe=""; [[ $target == *-windows-* ]] && exe=.exe
name="gitops-promote-$version-$target$exe"
gzip -n -c "$binary" >"$outdir/$name.gz"
sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1; }
printf '%s  %s\n%s  %s\n' "$(sha256 "$outdir/$name.gz")" "$name.gz" "$(sha256 "$binary")" "$name" >"$outdir/$name.gz.sha256"
echo "$outdir/$name.gz"
