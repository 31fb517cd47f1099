#!/bin/sh
# The managed-mode tests' users, made once per machine (as root; CI is a throwaway machine):
# the broker's system user, as the install steps make it, and two holders.
set -eu
if ! id attache >/dev/null 2>&1; then
    useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin attache
fi
for u in attache-t-holder attache-t-other; do
    if ! id "$u" >/dev/null 2>&1; then
        useradd --no-create-home --home-dir /nonexistent --shell /bin/sh "$u"
    fi
done
