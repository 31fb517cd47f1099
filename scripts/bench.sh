#!/usr/bin/env bash
# The benchmark (issue 8): what attache-agent costs over direct PKCS#11, side by side with
# OpenSSH's ssh-agent and p11-kit's server, in one run. Builds a Release tree in build/bench,
# runs attache-bench (tests/bench/) with its defaults (about 15 minutes on 2 cores) and writes
# the results into docs/performance.md. Arguments go to attache-bench:
#   scripts/bench.sh --quick          about two minutes, fewer and shorter cells
#   scripts/bench.sh --help           every option
# Measure on an otherwise idle machine: other work on the cores shows up in every number.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

dir=build/bench
mkdir -p "$dir"
echo "bench: building attache-bench (Release) in $dir ..."
# -O2 as Debian builds its packages, and -g so that profiles of the agent name functions.
if ! { cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release \
         "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -g -DNDEBUG" "-DCMAKE_C_FLAGS_RELEASE=-O2 -g -DNDEBUG" &&
       cmake --build "$dir" -j "$(nproc)" --target attache_bench; } >"$dir/build.log" 2>&1; then
  tail -n 60 "$dir/build.log"
  echo "bench: build failed (full log: $dir/build.log)" >&2
  exit 1
fi

read -r load1 _ < /proc/loadavg
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
  echo "bench: load average is $load1: other work is running, and the numbers will show it" >&2
fi

"$dir/tests/bench/attache-bench" --output docs/performance.md "$@"
# --help prints the options only: no measurement follows.
for a in "$@"; do case "$a" in --help|-h) exit 0 ;; esac; done

# Idle wake-ups and removal latency on OpenSC (issue 15): pcscd, vpcd and a virtual PIV card in
# a private namespace (tests/smartcard/stack.py), appended to the same page.
cmake --build "$dir" --target attache-agent attache >>"$dir/build.log" 2>&1
seconds=60
for a in "$@"; do [ "$a" = --quick ] && seconds=10; done
if out=$(tests/smartcard/stack.py run -- tests/bench/idle_wakeups.py --seconds "$seconds" \
           --agent "$dir/agent/attache-agent" --cli "$dir/cli/attache"); then
  printf '\n%s\n' "$out" | tee -a docs/performance.md
else
  echo "bench: the idle wake-up measurement failed" >&2
  exit 1
fi
