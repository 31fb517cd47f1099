#!/usr/bin/env bash
# The Debian package on a fresh Debian 12: package_test.sh BUILD_DIR WORK_DIR
#
# Builds the .deb from BUILD_DIR with cpack, checks its control data and contents, then
# installs it with apt into a minimal Debian 12 root made by debootstrap (from this machine's
# apt sources; kept in WORK_DIR for the next run) and checks, inside that root: the broker's
# system user, both programs start (every library they need came with the package's
# Depends), the shipped files, an admin's change to the policy survives a reinstall, and purge
# removes the user and the files. Everything runs in a private mount namespace.
# Exit 77 (skipped): the build is not one a package is made from (see the message).
set -euo pipefail

build=$1
work=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIPPED: $*"; exit 77; }

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
[ "$prefix" = /usr ] ||
  skip "this build installs under $prefix; packages are made from builds for /usr (scripts/build.sh DIR -DCMAKE_INSTALL_PREFIX=/usr; scripts/test.sh's plain build is one)"
if grep -q '^ATTACHE_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  skip "a sanitizer build is not packaged"
fi
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || fail "debootstrap is missing (scripts/install-deps.sh installs it)"

mkdir -p "$work"
# ---- the package ------------------------------------------------------------------------
rm -f "$work"/attache_*.deb
(cd "$build" && cpack -G DEB -B "$work" >"$work/cpack.log" 2>&1) ||
  { tail -n 30 "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/attache_*.deb)
echo "package: $deb ($(stat -c %s "$deb") bytes)"

field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = attache ] || fail "Package is '$(field Package)'"
depends=$(field Depends)
for lib in libc6 libssl3 libp11-kit0 libpcsclite1 libsystemd0; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's|^\.||')
for f in /usr/bin/attache /usr/bin/attache-agent \
         /usr/lib/systemd/user/attache-agent.service /usr/lib/systemd/user/attache-agent.socket \
         /usr/lib/udev/rules.d/69-attache.rules /usr/lib/sysusers.d/attache.conf \
         /usr/share/attache/managed/68-attache-managed.rules \
         /usr/share/attache/managed/attache-broker.service /usr/share/attache/managed-policy.toml \
         /usr/share/p11-kit/modules/attache-pkcs11.module /etc/attache/policy.toml; do
  grep -qx "$f" <<<"$contents" || fail "the package lacks $f"
done
grep -q '/pkcs11/attache-pkcs11.so$' <<<"$contents" || fail "the package lacks attache-pkcs11.so"
if grep -E '^/usr/local/|faulttoken|_test$|/tests/' <<<"$contents"; then
  fail "the package holds files that are not the product's (above)"
fi
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/attache/policy.toml ||
  fail "/etc/attache/policy.toml is not a conffile"
echo "control data and contents: ok"

# ---- a fresh Debian 12 root -------------------------------------------------------------
root=$work/bookworm
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
if [ ! -e "$root/.attache-complete" ]; then
  rm -rf "$root"
  echo "debootstrap (minbase, bookworm) from $mirror into $root ..."
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log"; fail "debootstrap failed (log: $work/debootstrap.log)"; }
  touch "$root/.attache-complete"
fi
# Each run installs into a fresh copy, so that nothing an earlier run installed (a library the
# package forgot to depend on, say) is found by this one.
pristine=$root
root=$work/run
rm -rf "$root"
cp -a "$pristine" "$root"
trap 'rm -rf "$root"' EXIT
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
  rm -f "$root/etc/apt/sources.list"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
cp "$deb" "$root/tmp/attache.deb"

# Inside the root: the checks, each failing with its reason.
cat >"$root/tmp/check.sh" <<'CHECK'
set -eu
fail() { echo "FAIL (in the Debian 12 root): $*" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq /tmp/attache.deb >/tmp/apt.log 2>&1 || { tail -n 30 /tmp/apt.log; fail "apt-get install"; }
line=$(getent passwd attache) || fail "no user attache after install"
uid=$(echo "$line" | cut -d: -f3)
[ "$uid" -lt 1000 ] || fail "attache is not a system user (uid $uid)"
case "$line" in *:/usr/sbin/nologin) ;; *) fail "attache can log in: $line" ;; esac
getent group attache >/dev/null || fail "no group attache"
attache --help >/tmp/out 2>&1 || { cat /tmp/out; fail "attache --help"; }
attache-agent --help >/tmp/out 2>&1 || { cat /tmp/out; fail "attache-agent --help"; }
ldd /usr/bin/attache /usr/bin/attache-agent /usr/lib/*/pkcs11/attache-pkcs11.so | grep 'not found' &&
  fail "libraries missing (above)"
grep -q 'attache-pkcs11.so' /usr/share/p11-kit/modules/attache-pkcs11.module || fail "module file"
# An admin's policy survives a reinstall (a conffile).
echo '# the admin was here' >>/etc/attache/policy.toml
dpkg -i --force-confold /tmp/attache.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "reinstall"; }
grep -q 'the admin was here' /etc/attache/policy.toml || fail "reinstall replaced the admin's policy.toml"
# Purge: the user and the package's files go.
apt-get purge -y -qq attache >/tmp/apt.log 2>&1 || { tail -n 30 /tmp/apt.log; fail "apt-get purge"; }
getent passwd attache >/dev/null && fail "purge left the user attache"
[ ! -e /usr/bin/attache-agent ] || fail "purge left /usr/bin/attache-agent"
[ ! -e /etc/attache/policy.toml ] || fail "purge left /etc/attache/policy.toml"
echo "in the Debian 12 root: install, user, programs, conffile, purge: ok"
CHECK

unshare -m --propagation private sh -c '
  set -e
  root=$1
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/run"
  exec chroot "$root" /bin/sh /tmp/check.sh
' sh "$root"
echo "the package: ok"
