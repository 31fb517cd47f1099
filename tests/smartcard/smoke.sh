#!/usr/bin/env bash
# The smartcard smoke suite: real pcscd, vpcd and OpenSC 0.23's PIV driver (opensc-pkcs11.so,
# pkcs11-tool, pkcs15-tool, piv-tool) against virtual PIV cards. Runs inside `stack.py run`
# (CMake: ctest -L smartcard). Prints one "ok"/"not ok" line per check.
set -uo pipefail

: "${ATTACHE_SC_STACK:?run this through stack.py run}"
HERE=$(cd "$(dirname "$0")" && pwd)
MODULE=${OPENSC_PKCS11:-/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so}
STACK=$ATTACHE_SC_STACK
CARD=$ATTACHE_SC_CARD
W=$ATTACHE_SC_RUN/smoke
mkdir -p "$W"
failures=0
started=$EPOCHREALTIME
elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; failures=$((failures + 1)); }
# check NAME CMD...: runs CMD (output to $W/last.out), ok when it exits 0
check() {
  local name=$1; shift
  if "$@" >"$W/last.out" 2>&1; then ok "$name"; else not_ok "$name"; sed 's/^/    /' "$W/last.out" | tail -20; fi
}
# refuse NAME CMD...: ok when CMD fails
refuse() {
  local name=$1; shift
  if "$@" >"$W/last.out" 2>&1; then not_ok "$name (it succeeded)"; sed 's/^/    /' "$W/last.out" | tail -5; else ok "$name"; fi
}
p11() { pkcs11-tool --module "$MODULE" "$@"; }
has() { grep -q -- "$1" "$W/last.out"; }

SERIAL_A=a77ac4e0000000a1
SERIAL_B=a77ac4e0000000b2
SERIAL_C=a77ac4e0000000c3
"$CARD" create "$W/card-a" --serial $SERIAL_A --provisioned >/dev/null
"$CARD" create "$W/card-b" --serial $SERIAL_B --provisioned --key 9D=p256 >/dev/null
"$CARD" create "$W/card-c" --serial $SERIAL_C >/dev/null
"$CARD" create "$W/card-d" --serial a77ac4e0000000d4 --mgmt-alg aes128 >/dev/null
echo "# cards created in $(elapsed) s"
printf 'attache smartcard smoke test\n' >"$W/data"

# --- a provisioned card: listing, signatures, decryption ---------------------------------------
"$STACK" insert "$W/card-a"
echo "# $("$STACK" latency --count 300)"
echo "# $("$STACK" latency --count 100 --sign)"
check "the card is listed with its serial" bash -c "pkcs11-tool --module '$MODULE' -L | grep -q 'serial num *: $SERIAL_A'"
check "objects: four certificates, public keys" bash -c "
  pkcs11-tool --module '$MODULE' -O >'$W/objects' &&
  [ \$(grep -c '^Certificate Object' '$W/objects') = 4 ] && grep -q 'PIV AUTH pubkey' '$W/objects'"
check "private keys 01-04 after login" bash -c "
  pkcs11-tool --module '$MODULE' -O --login --pin 123456 | grep -A3 '^Private Key Object' >'$W/privs' &&
  for id in 01 02 03 04; do grep -q \"ID: *\$id\" '$W/privs' || exit 1; done"

for id in 01 02 03 04; do
  p11 --read-object --type cert --id $id -o "$W/cert-$id.der" >/dev/null 2>&1
  openssl x509 -inform DER -in "$W/cert-$id.der" -pubkey -noout >"$W/pub-$id.pem" 2>/dev/null
done

check "9A: RSA-2048 SHA256-RSA-PKCS signature after login, verified by openssl" bash -c "
  pkcs11-tool --module '$MODULE' --login --pin 123456 --sign --id 01 -m SHA256-RSA-PKCS \
    -i '$W/data' -o '$W/sig-01' &&
  openssl dgst -sha256 -verify '$W/pub-01.pem' -signature '$W/sig-01' '$W/data'"
check "9A: RSA-PSS signature (padding by OpenSC, raw RSA on the card)" bash -c "
  pkcs11-tool --module '$MODULE' --login --pin 123456 --sign --id 01 -m SHA256-RSA-PKCS-PSS \
    --mgf MGF1-SHA256 --salt-len 32 -i '$W/data' -o '$W/sig-01p' &&
  openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -verify '$W/pub-01.pem' -signature '$W/sig-01p' '$W/data'"
refuse "9A refuses to sign without login" \
  p11 --sign --id 01 -m SHA256-RSA-PKCS -i "$W/data" -o "$W/sig-none"

export PKCS11SPY=$MODULE PKCS11SPY_OUTPUT=$W/spy-9c.log
SPY=/usr/lib/x86_64-linux-gnu/pkcs11-spy.so
check "9C: ECDSA P-256 signature with the context-specific login, verified by openssl" bash -c "
  pkcs11-tool --module '$SPY' --login --pin 123456 --sign --id 02 -m ECDSA-SHA256 \
    --signature-format openssl -i '$W/data' -o '$W/sig-02' &&
  openssl dgst -sha256 -verify '$W/pub-02.pem' -signature '$W/sig-02' '$W/data'"
unset PKCS11SPY PKCS11SPY_OUTPUT
check "9C: the signature needed C_Login(CKU_CONTEXT_SPECIFIC) after C_SignInit" bash -c "
  grep -A3 'C_Login' '$W/spy-9c.log' | grep -q 'CKU_CONTEXT_SPECIFIC'"
check "9C is CKA_ALWAYS_AUTHENTICATE; one VERIFY allows one signature (APDU rules)" \
  "$HERE/apdu_rules.py"
# pkcs11-tool logs in before every signature; OpenSSL's pkcs11 engine (libp11) does not.
cat >"$W/openssl-engine.cnf" <<CNF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
MODULE_PATH = $SPY
init = 0
CNF
check "9E: ECDSA P-256 signature through OpenSSL's pkcs11 engine with no C_Login at all" bash -c "
  PKCS11SPY='$MODULE' PKCS11SPY_OUTPUT='$W/spy-9e.log' OPENSSL_CONF='$W/openssl-engine.cnf' \
    openssl dgst -sha256 -engine pkcs11 -keyform engine -sign 'pkcs11:id=%04;type=private' \
    -out '$W/sig-04' '$W/data' </dev/null &&
  grep -q C_Sign '$W/spy-9e.log' && ! grep -q C_Login '$W/spy-9e.log' &&
  openssl dgst -sha256 -verify '$W/pub-04.pem' -signature '$W/sig-04' '$W/data'"
check "9D: RSA-2048 PKCS#1 v1.5 decryption of an openssl ciphertext" bash -c "
  openssl pkeyutl -encrypt -pubin -inkey '$W/pub-03.pem' -in '$W/data' -out '$W/enc-03' &&
  pkcs11-tool --module '$MODULE' --login --pin 123456 --decrypt --id 03 -m RSA-PKCS \
    -i '$W/enc-03' -o '$W/dec-03' && cmp '$W/data' '$W/dec-03'"
check "9D: RSA-OAEP (SHA-1) decryption" bash -c "
  openssl pkeyutl -encrypt -pubin -inkey '$W/pub-03.pem' -pkeyopt rsa_padding_mode:oaep \
    -in '$W/data' -out '$W/enc-03o' &&
  pkcs11-tool --module '$MODULE' --login --pin 123456 --decrypt --id 03 -m RSA-PKCS-OAEP \
    --hash-algorithm SHA-1 --mgf MGF1-SHA1 -i '$W/enc-03o' -o '$W/dec-03o' &&
  cmp '$W/data' '$W/dec-03o'"

# --- PIN counter, blocking, PUK ----------------------------------------------------------------
refuse "a wrong PIN is refused" p11 --login --pin 999999 -O
check "the card counts it: 2 tries left" bash -c "'$CARD' show '$W/card-a' | grep -q 'PIN tries left 2 of 3'"
check "pkcs11-tool still logs in with the right PIN (counter back to 3)" bash -c "
  pkcs11-tool --module '$MODULE' --login --pin 123456 -O >/dev/null &&
  '$CARD' show '$W/card-a' | grep -q 'PIN tries left 3 of 3'"
p11 --login --pin 999999 -O >/dev/null 2>&1
p11 --login --pin 999998 -O >/dev/null 2>&1
check "after two wrong PINs the token shows the final try" bash -c "
  pkcs11-tool --module '$MODULE' -L | grep -q 'final user PIN try'"
p11 --login --pin 999997 -O >/dev/null 2>&1
check "after three the token shows the PIN locked" bash -c "
  pkcs11-tool --module '$MODULE' -L | grep -q 'user PIN locked'"
refuse "a blocked PIN refuses even the right PIN" p11 --login --pin 123456 -O
refuse "a wrong PUK does not unblock" pkcs15-tool --unblock-pin --puk 87654321 --new-pin 123456
check "the PUK unblocks (pkcs15-tool --unblock-pin: RESET RETRY COUNTER)" bash -c "
  pkcs15-tool --unblock-pin --puk 12345678 --new-pin 112233 &&
  '$CARD' show '$W/card-a' | grep -q 'PIN tries left 3 of 3, PUK tries left 3 of 3'"
check "the new PIN signs" p11 --login --pin 112233 --sign --id 01 -m SHA256-RSA-PKCS -i "$W/data" -o "$W/sig-new"
check "pkcs11-tool --change-pin (CHANGE REFERENCE DATA)" p11 --login --pin 112233 --change-pin --new-pin 123456
check "pkcs15-tool changes the PUK" pkcs15-tool --change-pin --auth-id 02 --pin 12345678 --new-pin 23456789
check "the changed PUK is in the card's state" bash -c "grep -q '\"puk\": \"23456789\"' '$W/card-a/card.json'"

# --- removal, re-insertion, another card, pcscd restart ----------------------------------------
p11 --login --pin 999999 -O >/dev/null 2>&1  # one try used; must survive removal
"$STACK" remove
check "after removal opensc-tool -l shows reader 0 without a card" bash -c "
  opensc-tool -l | grep -E '^0 +No +.*Virtual PCD 00 00'"
check "after removal pkcs11-tool -L shows the slot empty" bash -c "
  pkcs11-tool --module '$MODULE' -L | grep -A1 'Virtual PCD 00 00' | grep -q '(empty)'"
"$STACK" insert "$W/card-a"
check "re-inserted: the same serial, the PIN counter kept (2 of 3)" bash -c "
  pkcs11-tool --module '$MODULE' -L | grep -q 'serial num *: $SERIAL_A' &&
  '$CARD' show '$W/card-a' | grep -q 'PIN tries left 2 of 3'"
"$STACK" remove
"$STACK" insert "$W/card-b"
check "another card in the same reader: its own serial" bash -c "
  pkcs11-tool --module '$MODULE' -L | grep -q 'serial num *: $SERIAL_B'"
check "9D on P-256: ECDH1-DERIVE equals openssl's shared secret" bash -c "
  pkcs11-tool --module '$MODULE' --read-object --type cert --id 03 -o '$W/b-cert-03.der' &&
  openssl x509 -inform DER -in '$W/b-cert-03.der' -pubkey -noout >'$W/b-pub-03.pem' &&
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '$W/peer.pem' &&
  openssl pkey -in '$W/peer.pem' -pubout -outform DER -out '$W/peer-pub.der' &&
  pkcs11-tool --module '$MODULE' --login --pin 123456 --derive --id 03 -m ECDH1-DERIVE \
    -i '$W/peer-pub.der' -o '$W/secret-card' &&
  openssl pkeyutl -derive -inkey '$W/peer.pem' -peerkey '$W/b-pub-03.pem' -out '$W/secret-ossl' &&
  cmp '$W/secret-card' '$W/secret-ossl'"
"$STACK" restart-pcscd
check "pcscd restarted: the card is back" bash -c "
  pkcs11-tool --module '$MODULE' -L | grep -q 'serial num *: $SERIAL_B'"
check "and signs" p11 --login --pin 123456 --sign --id 01 -m SHA256-RSA-PKCS -i "$W/data" -o "$W/sig-b"
"$STACK" remove

# --- a blank card: piv-tool with the management key --------------------------------------------
"$STACK" insert "$W/card-c"
echo 010203040506070801020304050607080102030405060708 >"$W/mgmt-3des"
echo 0102030405060708090a0b0c0d0e0f10 >"$W/mgmt-bad"
check "a blank card: no certificates, no keys" bash -c "
  pkcs11-tool --module '$MODULE' -L | grep -q 'serial num *: $SERIAL_C' &&
  ! pkcs11-tool --module '$MODULE' -O | grep -q 'Certificate Object'"
refuse "piv-tool cannot generate without the management key" \
  piv-tool -G 9A:07 -o "$W/gen-none.der"
refuse "piv-tool with a wrong management key is refused" \
  env PIV_EXT_AUTH_KEY="$W/mgmt-bad" piv-tool -A M:9B:03 -G 9A:07 -o "$W/gen-bad.der"
check "the refused attempts left the card blank" bash -c "'$CARD' show '$W/card-c' | grep -q 'keys: blank'"
# piv-tool -G SLOT:ALG with the management key. OpenSC 0.23's piv-tool, built with OpenSSL 3
# (Debian 12), cannot turn the card's answer into a public key file: "gen_key unable to gen RSA"
# / "... EC key" (fixed upstream after 0.23). The key is generated on the card all the same;
# then the test takes the public key from the card's state.
piv_generate() {  # piv_generate KEYFILE AUTH SLOT:ALG CARD_DIR OUT_PEM
  local keyfile=$1 auth=$2 spec=$3 dir=$4 out=$5 slot=${3%%:*}
  if PIV_EXT_AUTH_KEY=$keyfile piv-tool -A "$auth" -G "$spec" -o "$out.der" >"$out.log" 2>&1; then
    openssl pkey -pubin -inform DER -in "$out.der" -out "$out"
  else
    grep -q 'gen_key unable to gen' "$out.log" || { cat "$out.log"; return 1; }
    echo "# piv-tool 0.23 + OpenSSL 3 could not write the public key of $slot (known bug)"
    "$CARD" show "$dir" --public "$slot" >"$out"
  fi
}
check "piv-tool -A M:9B:03 (3DES mutual authentication) -G 9A:07: RSA-2048 made on the card" bash -c "
  $(declare -f piv_generate); CARD='$CARD'
  piv_generate '$W/mgmt-3des' M:9B:03 9A:07 '$W/card-c' '$W/gen-9a.pem' &&
  '$CARD' show '$W/card-c' | grep -q '9A rsa2048' &&
  openssl pkey -pubin -in '$W/gen-9a.pem' -text -noout | grep -q '2048 bit'"
# piv-tool 0.23 -C exits with the number of bytes written (mod 256) even on success: the card's
# state is the judge.
check "a certificate for the new 9A key (issued by a test CA) loaded with piv-tool -C" bash -c "
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=test-ca \
    -keyout '$W/ca.key' -out '$W/ca.pem' -days 30 &&
  openssl x509 -new -subj /CN=generated-9a -force_pubkey '$W/gen-9a.pem' -CA '$W/ca.pem' \
    -CAkey '$W/ca.key' -days 30 -out '$W/gen-9a-cert.pem' 2>/dev/null ||
  { openssl req -new -key '$W/ca.key' -subj /CN=generated-9a -out '$W/req.pem' &&
    openssl x509 -req -in '$W/req.pem' -force_pubkey '$W/gen-9a.pem' -CA '$W/ca.pem' \
      -CAkey '$W/ca.key' -CAcreateserial -days 30 -out '$W/gen-9a-cert.pem'; } &&
  { PIV_EXT_AUTH_KEY='$W/mgmt-3des' piv-tool -A M:9B:03 -C 9A -i '$W/gen-9a-cert.pem' || true; } &&
  '$CARD' show '$W/card-c' | grep -q 'objects:.*5FC105'"
check "the generated 9A key signs through PKCS#11, verified with the key generation's public key" bash -c "
  pkcs11-tool --module '$MODULE' -O | grep -q 'CN=generated-9a' &&
  pkcs11-tool --module '$MODULE' --login --pin 123456 --sign --id 01 -m SHA256-RSA-PKCS \
    -i '$W/data' -o '$W/sig-gen' &&
  openssl dgst -sha256 -verify '$W/gen-9a.pem' -signature '$W/sig-gen' '$W/data'"
"$STACK" remove
"$STACK" insert "$W/card-d"
echo 01020304050607080102030405060708 >"$W/mgmt-aes"
check "an AES-128 management key: piv-tool -A M:9B:08 -G 9D:11 makes P-256 on 9D" bash -c "
  $(declare -f piv_generate); CARD='$CARD'
  piv_generate '$W/mgmt-aes' M:9B:08 9D:11 '$W/card-d' '$W/gen-9d.pem' &&
  '$CARD' show '$W/card-d' | grep -q '9D p256' &&
  openssl pkey -pubin -in '$W/gen-9d.pem' -text -noout | grep -q 'prime256v1'"
refuse "the 3DES key does not open the AES card" \
  env PIV_EXT_AUTH_KEY="$W/mgmt-3des" piv-tool -A M:9B:03 -G 9A:07 -o "$W/gen-x.der"
"$STACK" remove

echo "# smoke suite took $(elapsed) s"
if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed; files in $W"
  exit 1
fi
