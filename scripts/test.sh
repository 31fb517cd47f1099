#!/usr/bin/env bash
# The test command: installs what is missing, builds Attache twice (plain, and with
# AddressSanitizer + UndefinedBehaviorSanitizer), and runs every test in both builds.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

run_suite() {
  local dir=$1
  shift
  echo "=== building $dir"
  scripts/build.sh "$dir" "$@"
  echo "=== testing $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 600
}

start=$(date +%s)
# Format check: every C++ file as .clang-format lays it out (clang-format -i FILE fixes one).
echo "=== format check"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  sources=$(git ls-files '*.cpp' '*.h')
else
  sources=$(find agent cli pkcs11 tests -name '*.cpp' -o -name '*.h')
fi
if ! echo "$sources" | xargs clang-format --dry-run --Werror >/dev/null 2>&1; then
  echo "these files are not formatted (run clang-format -i on them):" >&2
  echo "$sources" | xargs clang-format --dry-run 2>&1 | grep -oE '^[^:]+\.(cpp|h)' | sort -u >&2
  exit 1
fi
# For /usr, as a distribution builds: tests/package makes the Debian package from this build.
run_suite build/ci -DCMAKE_INSTALL_PREFIX=/usr
# Sanitizers: leaks in PKCS#11 modules we do not own (SoftHSM2) are not ours to fix.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build/asan -DATTACHE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
echo "=== all tests passed in $(( $(date +%s) - start )) s"
