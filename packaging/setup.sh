#!/usr/bin/env bash
# Installs exactly what OpStudio needs that this Debian 12 machine lacks (idempotent,
# non-interactive), then Node.js and npm's onnxruntime-node for the ONNX Runtime interop tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain (a bare Debian 12 may lack even these)
  g++ cmake ninja-build git pkg-config ccache ca-certificates
  # fixed by the product owner and added by measurement (see docs/architecture.md)
  qt6-base-dev libqcustomplot-dev libqcustomplot2.1-qt6 libprotobuf-dev protobuf-compiler libeigen3-dev
  libonnx-dev libonnx-testdata libgtest-dev nlohmann-json3-dev libcli11-dev libdnnl-dev
  ocl-icd-opencl-dev opencl-c-headers
  # headless GUI runs and screenshots; without fonts every glyph renders as a box
  xvfb xauth fonts-dejavu-core
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: need root (or sudo) to install packages" >&2; exit 1; fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# Node.js + npm for the ONNX Runtime peer. A bare Debian 12 has neither: install Debian's. A machine that
# already has a node and npm (e.g. a NodeSource nodejs, which bundles npm and conflicts with Debian's npm)
# keeps its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs npm (Debian) for the ONNX Runtime interop tests"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi

# ONNX Runtime (CPU) for interop tests and benchmarks: npm package, installed without its
# post-install download (it would fetch CUDA files; the CPU library ships inside the package).
# Without it every interop test reports a skip, and fails under CI=true.
if [ ! -f tests/interop/node_modules/onnxruntime-node/package.json ]; then
  echo "setup: installing onnxruntime-node (npm) into tests/interop"
  if ! (cd tests/interop && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --ignore-scripts \
          --loglevel=error >/dev/null); then
    echo "setup: onnxruntime-node could not be installed; interop tests will skip (and fail under CI=true)" >&2
    if [ "${CI:-}" = "true" ]; then exit 1; fi
  fi
fi
