#!/usr/bin/env bash
# README command 2: set up, build, run every test. Non-zero exit when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/setup.sh
packaging/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 900
