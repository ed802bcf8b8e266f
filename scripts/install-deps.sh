#!/usr/bin/env bash
# Installs the Debian bookworm packages crmd needs to build, run and test.
# Runs `apt-get update` once and `apt-get install` only for what is missing,
# so a second run on a prepared machine costs a second or two.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  librocksdb-dev libcereal-dev libssl-dev zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev libbz2-dev
  libcaf-dev librestinio-dev libfmt-dev libhttp-parser-dev libasio-dev
  nlohmann-json3-dev libcurl4-openssl-dev libphonenumber-dev libqrencode-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)

# The bridge's tests need a Node.js (18 or newer) to run. Debian's own
# nodejs is installed only when there is no node at all, so a newer Node
# brought by the machine (CI's 20) is left alone.
if ! command -v node >/dev/null 2>&1; then
  PACKAGES+=(nodejs)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
