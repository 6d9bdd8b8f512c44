#!/usr/bin/env bash
# Installs what kuzusync needs to build and test on Debian 12, skipping what
# is already there: the C++ toolchain and libraries (apt-get) and real Kuzu
# for the end-to-end tests (npm ci, from the committed lockfile).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config
          libssl-dev libzstd-dev libarchive-dev libsqlite3-dev libcli11-dev libxxhash-dev
          libgtest-dev libgmock-dev libbenchmark-dev
          openssl openssh-server openssh-client rsync zstd sqlite3)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/kuzu/kuzujs.node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci (kuzu $(node -p "require('./package.json').dependencies.kuzu"))"
  npm ci --no-audit --no-fund --loglevel=error
fi
