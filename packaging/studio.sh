#!/usr/bin/env bash
# README command 1: set up, build, and run the main job: the studio on the bundled sample model.
# Without a display it says so and runs the headless profile + optimize on the sample instead,
# writing a report to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/setup.sh
packaging/build.sh
SAMPLE=resources/models/mobilenet_v2/model.onnx
if [ -x build/app/opstudio ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  exec build/app/opstudio "$SAMPLE"
fi
echo "No display found: running the headless job (profile + optimize + report) on $SAMPLE instead."
mkdir -p out
CLI=build/app/opstudio-cli
"$CLI" info "$SAMPLE"
"$CLI" info "$SAMPLE" --json out/info.json
"$CLI" profile "$SAMPLE" --runs 20 --warmup 3 --json out/profile.json --csv out/profile.csv --trace out/trace.json
"$CLI" profile "$SAMPLE" --runs 20 --warmup 3 --top 10
"$CLI" optimize "$SAMPLE" -o out/optimized.onnx --preset all-fusions --report out/passes.json --save-recipe out/recipe.json
"$CLI" compare "$SAMPLE" out/optimized.onnx --runs 20 --json out/compare.json
"$CLI" compare "$SAMPLE" out/optimized.onnx --runs 20
"$CLI" report "$SAMPLE" --optimized out/optimized.onnx --runs 20 -o out/report.html --markdown out/report.md
echo "Report written to out/report.html (and out/: $(ls out | tr '\n' ' '))"
