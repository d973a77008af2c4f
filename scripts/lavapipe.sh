#!/usr/bin/env bash
# Test-only: Mesa's lavapipe (llvmpipe through Vulkan) from Debian bookworm-backports, unpacked into .cache/lavapipe/
# and never installed, so the system's drivers stay as they are. On a machine without a GPU it is the one adapter that
# offers `shader-f16`, so the f16 kernels' tests run there (test/helpers/half.ts); Dawn refuses bookworm's own
# Mesa 22.3 lavapipe ("Vulkan shaderUniform*ArrayDynamicIndexing required"). Elsewhere, offline, or on any failure it
# leaves nothing behind and exits 0: those tests then say why they were skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.cache/lavapipe
if [ -f "$target/lvp_icd.json" ]; then
  echo "lavapipe: present ($target)"
  exit 0
fi
if ! command -v apt-get > /dev/null || ! grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
  echo "lavapipe: not Debian bookworm; skipped (the f16 tests run wherever an adapter offers shader-f16)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
skip() {
  echo "lavapipe: $1; skipped (the f16 tests will say so)"
  rm -rf "$target"
  exit 0
}
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo 'deb http://deb.debian.org/debian bookworm-backports main' > "$work/sources.list"
# A private package list and cache, so the machine's apt sources, lists and caches are untouched.
apt=(-q -o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$work/lists"
  -o Dir::Cache="$work/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${apt[@]}" update > /dev/null 2>&1 || skip "bookworm-backports not reachable"
(cd "$work" && apt-get "${apt[@]}" download mesa-vulkan-drivers > /dev/null 2>&1) || skip "mesa-vulkan-drivers not downloaded"
package=$(ls "$work"/mesa-vulkan-drivers_*.deb)
dpkg-deb -x "$package" "$work/root"
driver=$(find "$work/root/usr/lib" -name libvulkan_lvp.so | head -1)
manifest=$(find "$work/root/usr/share/vulkan/icd.d" -name 'lvp_icd*.json' | head -1)
[ -n "$driver" ] && [ -n "$manifest" ] || skip "the package has no lavapipe driver"
mkdir -p "$target"
cp "$driver" "$target/"
library="$(pwd)/$target/libvulkan_lvp.so"
# Its shared libraries come from the machine's own sources (chromium and Mesa's GL bring most of them).
missing=$(ldd "$library" | grep 'not found' || true)
if [ -n "$missing" ]; then
  depends=$(dpkg-deb -f "$package" Depends | tr ',' '\n' | sed 's/(.*//; s/|.*//; s/ //g')
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  { $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-upgrade $depends; } > /dev/null 2>&1 ||
    skip "its libraries could not be installed"
fi
# The manifest last: its presence says the unpacking is whole.
sed "s#\"library_path\": \"[^\"]*\"#\"library_path\": \"$library\"#" "$manifest" > "$work/lvp_icd.json"
mv "$work/lvp_icd.json" "$target/lvp_icd.json"
echo "lavapipe: $(dpkg-deb -f "$package" Version) in $target"
