# Sourced by .ci/run: the MinGW-w64 cross-build, whole suite under Wine, then
# the engine scenarios 20 times in a row (.ci/windows.sh).
echo "=== configuration: windows (MinGW-w64 + Wine) ==="
BUILD_DIR=build-ci-windows bash .ci/windows.sh | tee /tmp/tofu-ci-windows.log
tail -n 1 /tmp/tofu-ci-windows.log >>"$summaries"
