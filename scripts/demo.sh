#!/usr/bin/env bash
# The main job: installs what is missing, builds Attache, and shows it working end to end on
# an embedded default, a SoftHSM2 demo token under .state/demo/ (no hardware needed):
#   an admin enrols the card (keys born on the token, CSRs, a certificate from a demo CA),
#   the agent serves it, the user unlocks it once, signs and decrypts through the agent
#   (checked by openssl), ssh sees the key, and a locked card refuses to work.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/install-deps.sh
scripts/build.sh build/release -DATTACHE_TESTS=OFF

bin=$root/build/release
attache=$bin/cli/attache
agent=$bin/agent/attache-agent
softhsm=/usr/lib/softhsm/libsofthsm2.so

state=$root/.state/demo
rm -rf "$state"
mkdir -p "$state/tokens" "$state/run" "$state/csr"
chmod 700 "$state/run"
cd "$state"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# The demo card: a SoftHSM2 token in the state directory, fresh from the "factory".
export SOFTHSM2_CONF=$state/softhsm2.conf
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$state" >"$SOFTHSM2_CONF"
export DEMO_PIN=246810 DEMO_SO_PIN=13579135
softhsm2-util --init-token --free --label attache-demo --pin "$DEMO_PIN" --so-pin "$DEMO_SO_PIN" \
  >/dev/null

step "Admin: the token, and enrolment of its holder (keys generated on the card)"
show "$attache" token list --module "$softhsm"
show "$attache" enrol --module "$softhsm" --token pkcs11:token=attache-demo --holder ada \
  --subject "CN=Ada Lovelace,O=Demo Ministry,C=BE" --email ada@example.org --key-type rsa-2048 \
  --out "$state/csr" --inventory "$state/inventory.db" --pin-source env:DEMO_PIN

step "Admin: a demo CA certifies both requests; the certificates go onto the card"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Demo CA" \
  -days 30 -keyout ca.key -out ca.pem 2>/dev/null
for csr in "$state"/csr/*.csr; do
  ext=$(basename "$csr" .csr).ext
  case $csr in
    *encryption*) echo "keyUsage=critical,keyEncipherment" >"$ext" ;;
    *) echo "keyUsage=critical,digitalSignature" >"$ext" ;;
  esac
  openssl x509 -req -in "$csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile "$ext" -out "${csr%.csr}.pem" 2>/dev/null
  show "$attache" cert import --module "$softhsm" --token pkcs11:token=attache-demo \
    --in "${csr%.csr}.pem" --inventory "$state/inventory.db" --pin-source env:DEMO_PIN
done
show "$attache" verify-card --module "$softhsm" --token pkcs11:token=attache-demo \
  --inventory "$state/inventory.db" --pin-source env:DEMO_PIN

step "User: the agent starts (at login, on a workstation) and serves the card"
# No desktop here for pinentry to prompt on: a locked token simply refuses.
printf 'modules = ["%s"]\nprompt_on_use = false\n' "$softhsm" >agent.toml
# The admin's policy (docs/policy.md): this demo's attache CLI may use the card; any other
# program must be confirmed in a dialog (there is none here, so it is refused); forwarded SSH
# agents never. (The shipped default also refuses clients in remote sessions: left out here,
# since this demo may well run over ssh.)
cat >policy.toml <<EOF_POLICY
[[rule]]
name = "forwarded ssh agents"
channel = ["ssh"]
forwarded = true
action = "deny"

[[rule]]
name = "token state"
operation = ["unlock", "lock", "list"]
action = "allow"

[[rule]]
name = "ssh logins and signatures"
channel = ["ssh"]
action = "allow"

[[rule]]
name = "the demo's attache CLI"
exe = ["$(realpath "$attache")"]
action = "allow"

[[rule]]
name = "everything else"
action = "confirm"
EOF_POLICY
printf 'policy = "%s/policy.toml"\n' "$state" >admin.toml
"$agent" --foreground --config agent.toml --admin-config admin.toml \
  --socket "$state/run/agent.sock" 2>agent.log &
agent_pid=$!
trap 'kill $agent_pid 2>/dev/null || true' EXIT
export ATTACHE_SOCK=$state/run/agent.sock
for _ in $(seq 100); do "$attache" status >/dev/null 2>&1 && break; sleep 0.05; done
show "$attache" status
show "$attache" keys

step "User: one unlock with the PIN (one C_Login, never retried)"
show "$attache" unlock --pin-source env:DEMO_PIN

auth="pkcs11:object=ada%20authentication"
enc="pkcs11:object=ada%20encryption"
step "User: a signature made on the card, verified by openssl"
echo "Cable 2026-11-27: the delegation arrives Tuesday." >cable.txt
show "$attache" sign --key "$auth" --in cable.txt --out cable.sig
"$attache" pubkey --key "$auth" >auth.pub.pem
show openssl dgst -sha256 -verify auth.pub.pem -signature cable.sig cable.txt

step "User: openssl encrypts for the card; the card decrypts"
"$attache" pubkey --key "$enc" >enc.pub.pem
echo "the meeting moved to 10:00" >secret.txt
openssl pkeyutl -encrypt -pubin -inkey enc.pub.pem -pkeyopt rsa_padding_mode:oaep \
  -in secret.txt -out secret.enc
show "$attache" decrypt --key "$enc" --in secret.enc

step "The encryption key may not sign: its certificate says keyEncipherment only"
show "$attache" sign --key "$enc" --in cable.txt --out refused.sig || echo "(refused, exit $?)"

step "Another program, even a copy of the CLI, is not on the policy's list: refused"
cp "$attache" other-program
show ./other-program sign --key "$auth" --in cable.txt --out refused.sig || echo "(refused, exit $?)"

step "ssh sees the card's key through Attache's SSH socket"
eval "$("$attache" ssh-env)"
show ssh-add -l

step "Locked, the card is useless, whoever holds the password"
show "$attache" lock
show "$attache" sign --key "$auth" --in cable.txt --out refused.sig || echo "(refused, exit $?)"

kill "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
trap - EXIT
step "Done. The agent's log (no PIN, no data, one audit line per operation):"
cat agent.log
