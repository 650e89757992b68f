#!/usr/bin/env bash
# Installs the Debian 12 packages thespian-c needs to build, test and run,
# and only those that are missing (we run as root on a fresh machine).
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc libc6-dev binutils python3
      libarchive-dev libjansson-dev libzmq3-dev libmbedtls-dev libelf-dev
      nettle-dev openssl unzip patchelf libsystemd-dev systemd)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
