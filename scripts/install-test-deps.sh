#!/usr/bin/env bash
# Debian packages the test suite needs beyond Node/npm: python3-onnx, the independent ONNX
# checker that validates the models our graph builder emits. Installs only what is missing.
set -euo pipefail
need=()
/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1 || need+=(python3-onnx)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "test dependencies present"
