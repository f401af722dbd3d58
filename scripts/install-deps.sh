#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian 12 machine. Safe to run again.
set -euo pipefail
need_apt=()
for p in postgresql-15 postgresql-server-dev-15 postgresql-15-cron libclang-dev clang sudo; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
if ! cargo pgrx --version 2>/dev/null | grep -q '0\.18\.1'; then
  echo "==> cargo install cargo-pgrx 0.18.1 (about 4 minutes)"
  cargo install cargo-pgrx --version 0.18.1 --locked
fi
if [ ! -f "${PGRX_HOME:-$HOME/.pgrx}/config.toml" ] || ! grep -q pg15 "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  cargo pgrx init --pg15 /usr/bin/pg_config
fi
