#!/usr/bin/env bash
# What the tests need beyond Node/npm, installing only what is missing: python3-onnx (the
# independent ONNX checker that validates the models our graph builder emits), python3-nibabel
# (the independent reader that checks outputs lie on their input's grid), then the
# end-to-end test's real VS Code (code-server) and browser (scripts/install-e2e-deps.sh).
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
echo "test dependencies present"
