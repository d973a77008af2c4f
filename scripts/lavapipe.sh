#!/usr/bin/env bash
# Test-only: Mesa's lavapipe (llvmpipe through Vulkan) from Debian bookworm-backports, unpacked into .cache/lavapipe/
# and never installed, so the system's drivers stay as they are. On a machine without a GPU it is the one adapter that
# offers `shader-f16`, so the f16 kernels' tests run there (test/helpers/lavapipe.ts); Dawn refuses bookworm's own
# Mesa 22.3 lavapipe ("Vulkan shaderUniform*ArrayDynamicIndexing required"). Elsewhere, or offline, it does nothing
# and those tests say why they were skipped.
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
mkdir -p "$work/lists/partial" "$work/archives/partial"
echo 'deb http://deb.debian.org/debian bookworm-backports main' > "$work/sources.list"
# A private package list, so the machine's apt sources and state are untouched.
apt=(-q -o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$work/lists"
  -o Dir::Cache::archives="$work/archives" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
if ! apt-get "${apt[@]}" update > /dev/null || ! (cd "$work" && apt-get "${apt[@]}" download mesa-vulkan-drivers > /dev/null); then
  echo "lavapipe: bookworm-backports not reachable; skipped (the f16 tests will say so)"
  exit 0
fi
mkdir -p "$target"
dpkg-deb -x "$work"/mesa-vulkan-drivers_*.deb "$work/root"
cp "$work/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" "$target/"
library="$(pwd)/$target/libvulkan_lvp.so"
sed "s#\"library_path\": \"[^\"]*\"#\"library_path\": \"$library\"#" "$work/root/usr/share/vulkan/icd.d/lvp_icd.json" > "$target/lvp_icd.json"
# Its shared libraries come from the machine's own sources (chromium and Mesa's GL bring most of them).
if ldd "$library" | grep -q 'not found'; then
  depends=$(dpkg-deb -f "$work"/mesa-vulkan-drivers_*.deb Depends | tr ',' '\n' | sed 's/(.*//; s/|.*//; s/ //g')
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q > /dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-upgrade $depends > /dev/null
fi
echo "lavapipe: $(dpkg-deb -f "$work"/mesa-vulkan-drivers_*.deb Version) in $target"
