#!/usr/bin/env bash
# Builds the Debian package: scripts/package.sh [DIR]   (default DIR: build/package)
# Configures DIR for /usr (as a distribution builds), builds the product without tests and
# runs cpack; prints the path of the .deb. Install it with: apt-get install ./attache_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/package}
scripts/install-deps.sh
scripts/build.sh "$dir" -DCMAKE_INSTALL_PREFIX=/usr -DATTACHE_TESTS=OFF
(cd "$dir" && cpack -G DEB >cpack.log 2>&1) || { tail -n 40 "$dir/cpack.log"; exit 1; }
ls "$dir"/attache_*.deb
