#!/usr/bin/env bash
# Installs the Debian 12 packages Attache needs to build, test and run its demo.
# Idempotent: apt-get runs only when a package is missing. Needs root (or sudo) for that.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config git clang-format
  # libraries (docs/dependencies.md says why each is here)
  libp11-kit-dev p11-kit p11-kit-modules libssl-dev openssl
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libsqlite3-dev
  libsystemd-dev libassuan-dev libgpg-error-dev
  # PC/SC for PIV enrolment (cli/admin/piv/: what OpenSC cannot do on PIV cards)
  libpcsclite-dev
  # workstation tests: udevadm, systemd-analyze and the environment.d generator, a private
  # D-Bus bus standing in for the system bus
  udev systemd dbus-daemon
  # tests
  libgtest-dev libgmock-dev googletest
  softhsm2 opensc opensc-pkcs11 gnutls-bin
  openssh-client openssh-server libengine-pkcs11-openssl
  # the real smartcard stack (tests/smartcard): pcscd, vpcd's reader driver, the virtual PIV
  # card (Debian's /usr/bin/python3 with python3-cryptography), PC/SC for its checks, and
  # unshare/ip for the private network namespace
  pcscd libpcsclite1 vsmartcard-vpcd python3 python3-cryptography util-linux iproute2
  # mail and browser clients through attache-pkcs11.so (tests/mail): NSS's certutil, modutil
  # and cmsutil; Firefox ESR and Thunderbird run headless (no X server needed)
  libnss3-tools firefox-esr thunderbird
  # a TPM token (tests/tpm): swtpm on loopback behind tpm2-abrmd (on a private bus, through
  # the TCTIs for both), tpm2-pkcs11 and its tpm2_ptool (which runs tpm2-tools)
  swtpm tpm2-abrmd libtss2-tcti-swtpm0 libtss2-tcti-tabrmd0 libtpm2-pkcs11-1
  libtpm2-pkcs11-tools tpm2-tools
  # shells whose syntax `attache-agent -c` and `--fish` print (tests evaluate the output)
  tcsh fish
  # the Debian package (tests/package): dpkg-shlibdeps for its Depends, a fresh Debian 12
  # root to install it in
  dpkg-dev debootstrap
  # fuzzing (libFuzzer)
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "install-deps: run as root (or install sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
