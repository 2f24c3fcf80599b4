#!/usr/bin/env bash
# What the tests need beyond Node/npm, installing only what is missing: python3-onnx (the
# independent ONNX checker that validates the models our graph builder emits), python3-nibabel
# (the independent reader that checks outputs lie on their input's grid), then the
# end-to-end test's real VS Code (code-server) and browser (scripts/install-e2e-deps.sh), whose
# chromium also brings the SwiftShader Vulkan driver the WebGPU tests run on.
set -euo pipefail
need=()
/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1 || need+=(python3-onnx)
/usr/bin/python3 -c 'import nibabel' >/dev/null 2>&1 || need+=(python3-nibabel)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
"$(dirname "$0")/install-e2e-deps.sh"
# The WebGPU tests (test/runtime/webgpu.test.ts) run onnxruntime's WebGPU provider on the
# SwiftShader Vulkan driver that Debian's chromium package ships (with its own libvulkan.so.1);
# install-e2e-deps.sh installed chromium, but a chromium without SwiftShader must fail here.
ICD=/usr/lib/chromium/vk_swiftshader_icd.json
if [ ! -f "$ICD" ] || [ ! -f /usr/lib/chromium/libvk_swiftshader.so ] || [ ! -f /usr/lib/chromium/libvulkan.so.1 ]; then
  echo "SwiftShader Vulkan driver missing: expected $ICD, libvk_swiftshader.so and libvulkan.so.1 in /usr/lib/chromium (Debian package chromium)" >&2
  exit 1
fi
echo "test dependencies present"
