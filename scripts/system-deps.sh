#!/usr/bin/env bash
# Installs the distribution packages the finder needs, once: PostgreSQL 15 + PostGIS 3 (unless
# DATABASE_URL names another server), Chromium for the browser tests, and npm to unpack
# Leaflet for the optional map (when the machine has no npm yet).
# As root directly, otherwise through sudo; if neither is possible, says what to install.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
packages=()
[ -z "${DATABASE_URL:-}" ] && packages+=(postgresql-15 postgresql-15-postgis-3 postgresql-client-15)
packages+=(chromium)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo"
else
  echo "error: please install these packages first (as root): apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
