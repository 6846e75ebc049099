# Sourced by .ci/run: the self-test of .ci/windows.sh, then the MinGW-w64
# cross-build, whole suite under Wine, then the engine scenarios 20 times in
# a row (.ci/windows.sh); then the interop
# test: native tofucat against tofucat.exe under Wine, both ways (.ci/interop.sh).
# Each pipeline fails the run (set -o pipefail in .ci/run).
echo "=== configuration: windows (MinGW-w64 + Wine) ==="
# First its relaunch logic (launches that never started) on a fake project.
bash .ci/windows.sh --self-test
BUILD_DIR=build-ci-windows bash .ci/windows.sh | tee /tmp/tofu-ci-windows.log
tail -n 1 /tmp/tofu-ci-windows.log >>"$summaries"
echo "=== interop: Linux tofucat <-> Windows tofucat.exe under Wine ==="
bash .ci/interop.sh build-ci-gcc build-ci-windows | tee /tmp/tofu-ci-interop.log
tail -n 1 /tmp/tofu-ci-interop.log >>"$summaries"
