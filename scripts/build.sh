#!/usr/bin/env bash
# Configures and builds one flavour of Attache: scripts/build.sh DIR [cmake options...]
# The compiler's output goes to DIR/build.log; it is shown when the build fails.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1
shift
mkdir -p "$dir"
echo "building in $dir ..."
# Unity build (8 sources per translation unit): about half the compile time of the two CI
# flavours on 2 cores. Names at namespace scope must therefore be unique within a target.
if ! { cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_UNITY_BUILD=ON \
         -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 "$@" &&
       cmake --build "$dir" -j "$(nproc)"; } >"$dir/build.log" 2>&1; then
  tail -n 60 "$dir/build.log"
  echo "build failed in $dir (full log: $dir/build.log)" >&2
  exit 1
fi
