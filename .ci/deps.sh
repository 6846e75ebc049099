#!/usr/bin/env bash
# Installs what building and testing libtofu with gcc needs on Debian 12
# (the README's test command), only when something is missing (a fresh CI
# machine has gcc, cmake and make). libuv1-dev builds examples/libuv_loop.c;
# python3-venv and python3-dev build and test the Python package (python/).
# Configurations that need more name it: .ci/run adds clang and its
# sanitizer runtimes for the clang runs.
# Usage: .ci/deps.sh [extra Debian packages...]
set -euo pipefail
# iproute2: the netns tests (ip netns, tc) cut a veth link between namespaces.
want=(cmake make gcc python3 pkg-config libuv1-dev python3-venv python3-dev iproute2 "$@")
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]} (run as root or install them)" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
