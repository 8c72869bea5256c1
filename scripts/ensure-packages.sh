#!/usr/bin/env bash
# Installs the Debian packages in scripts/lab-packages.txt that are missing.
# As root it runs apt-get; otherwise it fails naming every missing package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(grep -v -E '^\s*(#|$)' "$here/lab-packages.txt")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "lightsout: missing Debian packages: ${missing[*]}" >&2
  echo "lightsout: run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "lightsout: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
