#!/usr/bin/env bash
# Unpacks Leaflet (BSD-2-Clause) from the npm registry into finder/static/vendor/leaflet, so
# the optional map is served by the app itself and never from a CDN. Run by `make setup`.
set -euo pipefail
version="${1:-1.9.4}"
dest="finder/static/vendor/leaflet"
if [ -f "$dest/leaflet.js" ] && grep -q "$version" "$dest/VERSION" 2>/dev/null; then exit 0; fi
command -v npm >/dev/null || { echo "error: npm is needed to fetch Leaflet (apt-get install npm)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "leaflet@$version" --silent >/dev/null)
tar -xzf "$tmp/leaflet-$version.tgz" -C "$tmp"
rm -rf "$dest"
mkdir -p "$dest"
cp "$tmp/package/dist/leaflet.js" "$tmp/package/dist/leaflet.css" "$dest/"
cp -r "$tmp/package/dist/images" "$dest/images"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "$version" > "$dest/VERSION"
echo "Leaflet $version unpacked into $dest"
