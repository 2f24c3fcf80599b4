#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU (see scripts/gpu-check.ts for what it runs):
# provider selection, CPU-vs-CUDA agreement of the detection graph and a training step of the
# cpu and paper presets, nodes left on the CPU, bench:speed on CUDA; the last stdout line is
# one JSON object. Needs `npm ci` done, an NVIDIA driver, CUDA 12 + cuDNN 9 on the library
# path and onnxruntime-node's CUDA provider libraries (installed here with the network, by
# `anyad doctor --install-cuda --yes`, when missing). Under 10 minutes: the whole run is
# capped at 590 s and every step has its own limit.
#   scripts/gpu-check.sh            on the GPU machine
#   scripts/gpu-check.sh --dry-run  the same plumbing without a GPU (WebGPU over SwiftShader, tiny-cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/onnxruntime-node ] || { echo "run npm ci first" >&2; exit 2; }
if [ "${1:-}" != "--dry-run" ]; then
  command -v nvidia-smi >/dev/null || { echo "nvidia-smi not found: no NVIDIA driver on this machine (try --dry-run)" >&2; exit 2; }
  BIN=$(node -p "require('path').join(require('path').dirname(require.resolve('onnxruntime-node/package.json')),'bin/napi-v6',process.platform,process.arch)")
  if [ ! -f "$BIN/libonnxruntime_providers_cuda.so" ]; then
    echo "[gpu-check] CUDA provider libraries missing in $BIN: installing (needs the network)" >&2
    timeout 240 node --import tsx src/cli/main.ts doctor --install-cuda --yes >&2 || echo "[gpu-check] install failed; the checks below will say what is missing" >&2
  fi
fi
exec timeout 590 node --import tsx scripts/gpu-check.ts "$@"
