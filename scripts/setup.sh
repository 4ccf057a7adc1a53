#!/usr/bin/env bash
# Installs what c2atlas needs on a fresh Debian machine with Rust, Node/npm and Python:
#  - the default IP databases (CC0/CC-BY ip-location-db builds, from the npm registry, with their licence files)
#    into data/db/ (idempotent: skipped when already present and verified);
#  - the Python `maxminddb` reference reader used by the lookup-agreement test.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
db="$root/data/db"
mkdir -p "$db"

# Pinned so that figures are reproducible; bump deliberately.
COUNTRY_PKG="@ip-location-db/geo-whois-asn-country-mmdb@2.3.2026061719"
ASN_PKG="@ip-location-db/asn@2.3.2026061719"

fetch() { # fetch PKG DEST_SUBDIR
  local pkg="$1" dest="$db/$2"
  if [ -f "$dest/.complete" ]; then return 0; fi
  echo "setup: fetching $pkg from the npm registry" >&2
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  rm -rf "$dest"; mkdir -p "$dest"
  tar -xzf "$tmp"/*.tgz -C "$dest" --strip-components=1
  rm -rf "$tmp"
  echo "$pkg" > "$dest/.complete"
}
fetch "$COUNTRY_PKG" country
fetch "$ASN_PKG" asn

if ! python3 -c "import pyarrow" 2>/dev/null; then
  echo "setup: installing pyarrow (reads back the Parquet relationship files in tests)" >&2
  python3 -m pip install --quiet --disable-pip-version-check pyarrow >&2 || echo "setup: WARNING: pyarrow not installed; the pyarrow check will skip" >&2
fi
if ! python3 -c 'import maxminddb' 2>/dev/null; then
  echo "setup: installing the Python maxminddb reference reader" >&2
  python3 -m pip install --quiet --disable-pip-version-check maxminddb >&2
fi
# nfdump's own tools (nfdump, nfcapd, nfpcapd, nfreplay): the reference reader that the nfcapd
# reader is checked against, the writer of nfcapd test files, and the peer in `c2atlas bench`.
if ! command -v nfdump >/dev/null 2>&1; then
  echo "setup: installing nfdump from Debian" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq nfdump >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq nfdump >/dev/null 2>&1; } \
    || echo "setup: WARNING: could not install nfdump; tests that need it will say so and skip" >&2
fi
echo "setup: databases in $db" >&2
