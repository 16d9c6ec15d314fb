#!/usr/bin/env bash
# Install the named Debian packages when they are missing. Needs root (or passwordless sudo) only
# when something is actually missing; prints what it does.
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts some services on install; the tests start their own on free ports.
for svc in mosquitto nats-server postgresql influxdb; do
  if printf '%s\n' "${missing[@]}" | grep -qx "$svc"; then
    ($SUDO service "$svc" stop || true) >/dev/null 2>&1
  fi
done
