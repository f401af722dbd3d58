#!/usr/bin/env bash
# Builds mking_analytics in release mode and installs it into the system PostgreSQL (15).
#
# Each file is written next to its destination and renamed over it, never rewritten in place:
# a running server's backends keep the library they have mapped. (`cargo pgrx install` rewrites
# mking_analytics.so in place, and a backend that has it loaded, such as the alert loop, can
# crash on the changed pages, restarting every connection of the server.)
#
# Env: PG_CONFIG (default /usr/bin/pg_config). Needs write access to PostgreSQL's directories.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_config="${PG_CONFIG:-/usr/bin/pg_config}"
major="$("$pg_config" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')"
cargo pgrx package --pg-config "$pg_config"
pkg="target/release/mking_analytics-pg${major}"
[ -d "$pkg" ] || { echo "install: $pkg not found after cargo pgrx package" >&2; exit 1; }
(cd "$pkg" && find . -type f) | while read -r f; do
  dst="/${f#./}"
  tmp="$dst.installing.$$"
  install -d "$(dirname "$dst")"
  install -m "$(stat -c %a "$pkg/$f")" "$pkg/$f" "$tmp"
  mv -f "$tmp" "$dst"
  echo "installed $dst"
done
