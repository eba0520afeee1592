#!/usr/bin/env bash
# Installs Debian packages only when missing: `scripts/ensure-apt.sh postgresql prometheus chromium`.
# Idempotent and quiet when everything is there; needs root (CI and the dev machines are).
# Exits non-zero when a package could not be installed, so callers can skip with a message.
set -u
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-apt: missing ${missing[*]} and not root: install them with apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A lock held by another apt run (a parallel CI step) is waited for, not failed on.
apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 || true
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  echo "ensure-apt: could not install ${missing[*]}" >&2
  exit 1
}
