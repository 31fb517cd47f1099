# The Debian package: `cpack -G DEB` in a build configured with -DCMAKE_INSTALL_PREFIX=/usr
# (scripts/package.sh does both). One package, `attache`, with everything `cmake --install`
# lays out; the maintainer scripts in cmake/debian/ create the broker's system user and enable
# the per-user agent's socket for every user. Managed mode stays off until the admin follows
# docs/admin-guide.md section 10 (its files are shipped in share/attache/managed/).

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "attache")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "Attache maintainers <attache@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "hardware-backed credential agent for PKCS#11 smartcards")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "hardware-backed credential agent for PKCS#11 smartcards
 attache-agent brokers every signature and decryption through a PKCS#11 token
 (smartcard, USB HSM): keys are generated on the token, never leave it, and are
 used only while the card is present and unlocked with its PIN. It speaks its own
 protocol (for attache-pkcs11.so, which gives every PKCS#11 application the
 agent's keys) and OpenSSH's agent protocol. The attache CLI enrols cards.")
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Library dependencies from the binaries themselves (dpkg-shlibdeps).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The debug information stays in the build tree; the package ships stripped binaries.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "p11-kit-modules, passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "pcscd, opensc-pkcs11, pinentry-gnome3 | pinentry-curses")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "softhsm2")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_CURRENT_LIST_DIR}/debian/postinst;${CMAKE_CURRENT_LIST_DIR}/debian/prerm;${CMAKE_CURRENT_LIST_DIR}/debian/postrm;${CMAKE_CURRENT_LIST_DIR}/debian/conffiles")
include(CPack)
