#!/usr/bin/env bash
# Installs, on Debian or Ubuntu, the system packages gradlens's tests need, and only those missing:
#   libvulkan1 + chromium   the Vulkan loader, and SwiftShader (Vulkan on the CPU, shipped inside Debian's chromium);
#                           chromium also runs the browser tests
#   libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri   Mesa's llvmpipe through OpenGL ES (WebGPU compatibility mode)
#   libonnx-testdata        ONNX's backend node tests, run as a conformance suite
# then, on Debian bookworm, scripts/lavapipe.sh unpacks a newer lavapipe for the f16 tests (into .cache/, not installed).
# Elsewhere (macOS, Windows, other Linux) it installs nothing: a GPU driver is all gradlens needs there.
set -euo pipefail
if ! command -v apt-get > /dev/null || ! command -v dpkg-query > /dev/null; then
  echo "system packages: not Debian/Ubuntu; skipped (gradlens needs a GPU driver, or Mesa's EGL/GLES or SwiftShader)"
  exit 0
fi
packages=(libvulkan1 chromium libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri libonnx-testdata)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
else
  echo "system packages: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi
bash "$(dirname "$0")/lavapipe.sh"
