#!/usr/bin/env bash
# Installs what the demo and the tests need, on Debian, and nothing that is already there:
#   chromium          headless browser tests; its SwiftShader is the WebGPU adapter on machines
#                     without a GPU, in Chrome and in Node (see ../shared/WEBGPU-ON-CPU.md)
#   libvulkan1        the Vulkan loader Dawn (the 'webgpu' npm package) needs in Node
#   python3-torch     real PyTorch, to make models and expected outputs at test time
#   python3-torchvision  torchvision's ResNets, for the image models' tests
#   python3-sklearn   the breast-cancer data set of the example model
# then the npm packages with `npm ci` whenever package-lock.json changed.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ] || missing+=(chromium)
grep -q 'libvulkan\.so\.1 ' <(ldconfig -p 2>/dev/null) || missing+=(libvulkan1)
/usr/bin/python3 -c 'import torch' 2>/dev/null || missing+=(python3-torch)
/usr/bin/python3 -c 'import torchvision' 2>/dev/null || missing+=(python3-torchvision)
/usr/bin/python3 -c 'import sklearn' 2>/dev/null || missing+=(python3-sklearn)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "setup: installing ${missing[*]} with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

stamp=node_modules/.resgpu-lock-hash
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock" ]; then
  echo "setup: npm ci" >&2
  npm ci --no-fund --no-audit --loglevel=error
  echo "$lock" > "$stamp"
fi
