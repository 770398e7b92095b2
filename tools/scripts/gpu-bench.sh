#!/usr/bin/env bash
# Runs `npm run bench -- pipeline` (the paper configuration at real sizes, seeded random weights) on a fresh
# Linux machine with a GPU and prints its table.
#
#   tools/scripts/gpu-bench.sh [pipeline options...]      e.g. --batches 1,8 --train-batch 8 --repeats 3
#
# Needs: a GPU with a Vulkan driver (NVIDIA's driver ships one; check with `vulkaninfo --summary` or
# `ls /usr/share/vulkan/icd.d`), libvulkan1, and Node >= 20. Where Node is missing it uses, in order:
# $HGM_NODE_TARBALL (a node-v*-linux-x64.tar.xz brought along), else it downloads Node 20 from nodejs.org
# (needs the internet). Then `npm ci` (needs the npm registry, or a node_modules copied along) and the bench.
# Node goes to $HGM_NODE_DIR (default ~/.cache/hgm-node).
# Environment: HGM_BENCH_BACKEND (default webgpu), HGM_BENCH_SIZE (default: the paper's 512).
set -euo pipefail
cd "$(dirname "$0")/../.."

NODE_VERSION=20.19.5
need_node() {
  command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]
}
if ! need_node; then
  dest="${HGM_NODE_DIR:-$HOME/.cache/hgm-node}"
  mkdir -p "$dest"
  if [ -n "${HGM_NODE_TARBALL:-}" ]; then
    echo "gpu-bench: Node >= 20 not found; unpacking $HGM_NODE_TARBALL"
    tar -xf "$HGM_NODE_TARBALL" -C "$dest" --strip-components=1
  else
    url="https://nodejs.org/dist/v${NODE_VERSION}/node-v${NODE_VERSION}-linux-x64.tar.xz"
    echo "gpu-bench: Node >= 20 not found; downloading $url (or set HGM_NODE_TARBALL to a tarball brought along)"
    if command -v curl >/dev/null 2>&1; then curl -fsSL "$url" | tar -xJ -C "$dest" --strip-components=1
    elif command -v wget >/dev/null 2>&1; then wget -qO- "$url" | tar -xJ -C "$dest" --strip-components=1
    else echo "gpu-bench: needs curl or wget to download Node, or HGM_NODE_TARBALL" >&2; exit 1; fi
  fi
  export PATH="$dest/bin:$PATH"
fi
echo "gpu-bench: node $(node --version)"

if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    apt-get update -qq && apt-get install -y -qq libvulkan1 >/dev/null || echo "gpu-bench: libvulkan1 could not be installed"
  else
    echo "gpu-bench: libvulkan.so.1 not found: install libvulkan1 (Dawn reaches the GPU through Vulkan)" >&2
  fi
fi
if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true; fi

if [ ! -d node_modules/@tensorflow/tfjs-core ] || [ ! -d node_modules/webgpu ]; then
  npm ci --no-audit --no-fund
fi

args=(--backend "${HGM_BENCH_BACKEND:-webgpu}")
if [ -n "${HGM_BENCH_SIZE:-}" ]; then args+=(--size "$HGM_BENCH_SIZE"); fi
node --conditions=@hgm/source --import tsx apps/cli/src/main.ts doctor 2>/dev/null | sed -n '/^backends:/,/^packages:/p' || true
exec timeout 540 npm run --silent bench -- pipeline "${args[@]}" "$@"
