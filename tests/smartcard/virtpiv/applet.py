"""The PIV card application: APDU in, APDU response out (NIST SP 800-73-4 part 2, the
commands OpenSC 0.23's PIV driver and piv-tool send).

Security status lives only in this object (it is lost when the card is powered off or reset);
everything else is in CardState and saved after each change."""

import os

from . import tlv as T
from .keys import ASYMMETRIC, SYMMETRIC, CardKey

PIV_AID = bytes.fromhex("A000000308000010000100")
# Objects that need the PIN for GET DATA (SP 800-73-4 part 1 table 3).
PIN_PROTECTED = {"5FC103", "5FC108", "5FC109", "5FC121"}
KEY_SLOTS = {0x9A, 0x9C, 0x9D, 0x9E}
MGMT_REF = 0x9B

SW_OK = b"\x90\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_SECURITY = b"\x69\x82"
SW_BLOCKED = b"\x69\x83"
SW_CONDITIONS = b"\x69\x85"
SW_WRONG_DATA = b"\x6a\x80"
SW_NOT_FOUND = b"\x6a\x82"
SW_WRONG_P1P2 = b"\x6a\x86"
SW_REF_NOT_FOUND = b"\x6a\x88"
SW_INS = b"\x6d\x00"
SW_CLA = b"\x6e\x00"


class Apdu:
    def __init__(self, raw):
        if len(raw) < 4:
            raise ValueError("APDU shorter than a header")
        self.cla, self.ins, self.p1, self.p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        self.data = b""
        self.le = None
        if not body:
            return
        if len(body) == 1:
            self.le = body[0] or 256
        elif body[0] == 0 and len(body) >= 3:  # extended length
            if len(body) == 3:
                self.le = int.from_bytes(body[1:3], "big") or 65536
            else:
                lc = int.from_bytes(body[1:3], "big")
                self.data = body[3:3 + lc]
                rest = body[3 + lc:]
                if len(self.data) != lc or len(rest) not in (0, 2):
                    raise ValueError("bad extended APDU")
                if rest:
                    self.le = int.from_bytes(rest, "big") or 65536
        else:
            lc = body[0]
            self.data = body[1:1 + lc]
            rest = body[1 + lc:]
            if len(self.data) != lc or len(rest) > 1:
                raise ValueError("bad short APDU")
            if rest:
                self.le = rest[0] or 256


class PivApplet:
    def __init__(self, state, log=None):
        self.state = state
        self.log = log or (lambda msg: None)
        self.power_on()

    def power_on(self):
        """Cold or warm reset: all security status is gone."""
        self.pin_verified = False
        self.pin_always = False  # the 9C "PIN Always" status, consumed by one use
        self.mgmt_authenticated = False
        self.mgmt_witness = None
        self.mgmt_challenge = None
        self.pending = b""
        self.chain = None  # (ins, p1, p2, collected data)

    # --- transport: chaining, response chaining ---------------------------------------------
    def process(self, raw):
        try:
            apdu = Apdu(raw)
        except ValueError:
            self.pin_always = False
            return SW_WRONG_LENGTH
        if apdu.cla & ~0x10 & 0xFF != 0x00:
            self.pin_always = False
            return SW_CLA
        if apdu.ins == 0xC0:
            return self._get_response(apdu)
        self.pending = b""
        if apdu.cla & 0x10:
            if self.chain and self.chain[:3] != (apdu.ins, apdu.p1, apdu.p2):
                self.chain = None
            collected = self.chain[3] if self.chain else b""
            self.chain = (apdu.ins, apdu.p1, apdu.p2, collected + apdu.data)
            return SW_OK
        if self.chain:
            if self.chain[:3] == (apdu.ins, apdu.p1, apdu.p2):
                apdu.data = self.chain[3] + apdu.data
            self.chain = None
        data, sw = self._dispatch(apdu)
        if apdu.ins != 0x20:
            self.pin_always = False  # "immediately before": any other command ends it
        return self._respond(data, sw, apdu.le)

    def _respond(self, data, sw, le):
        if not data:
            return sw
        limit = le if le is not None else 256
        if len(data) <= limit:
            return data + sw
        self.pending = data[limit:]
        return data[:limit] + self._more_sw()

    def _more_sw(self):
        return bytes([0x61, min(len(self.pending), 256) & 0xFF])

    def _get_response(self, apdu):
        if not self.pending:
            return SW_CONDITIONS
        n = apdu.le if apdu.le is not None else 256
        chunk, self.pending = self.pending[:n], self.pending[n:]
        return chunk + (self._more_sw() if self.pending else SW_OK)

    def _dispatch(self, apdu):
        handler = {
            0xA4: self._select,
            0xCB: self._get_data,
            0xDB: self._put_data,
            0x20: self._verify,
            0x24: self._change_reference,
            0x2C: self._reset_retry_counter,
            0x87: self._general_authenticate,
            0x47: self._generate,
        }.get(apdu.ins)
        if handler is None:
            return b"", SW_INS
        return handler(apdu)

    # --- SELECT ------------------------------------------------------------------------------
    def _select(self, apdu):
        if apdu.p1 != 0x04:
            return b"", SW_NOT_FOUND
        aid = apdu.data
        if len(aid) < 5 or not PIV_AID.startswith(aid):
            return b"", SW_NOT_FOUND  # the PIV application stays selected
        algorithms = b"".join(T.tlv(0x80, bytes([a])) for a in (0x07, 0x11, 0x14, 0x03, 0x08))
        apt = (T.tlv(0x4F, PIV_AID[5:]) +
               T.tlv(0x79, T.tlv(0x4F, PIV_AID[:5])) +
               T.tlv(0x50, b"Attache virtual PIV") +
               T.tlv(0xAC, algorithms + T.tlv(0x06, b"\x00")))
        return T.tlv(0x61, apt), SW_OK

    # --- data objects ------------------------------------------------------------------------
    def _object_tag(self, apdu):
        if (apdu.p1, apdu.p2) != (0x3F, 0xFF):
            return None, SW_WRONG_P1P2
        try:
            items = T.parse(apdu.data[:apdu.data[1] + 2] if len(apdu.data) > 1 else b"")
        except (T.TlvError, IndexError):
            return None, SW_WRONG_DATA
        tag = T.find(items, 0x5C)
        if tag is None or len(tag) not in (1, 3):
            return None, SW_WRONG_DATA
        return tag.hex().upper(), None

    def _get_data(self, apdu):
        tag, err = self._object_tag(apdu)
        if err:
            return b"", err
        if tag in PIN_PROTECTED and not self.pin_verified:
            return b"", SW_SECURITY
        value = self.state.get_object(tag)
        if value is None and tag == "7E":
            value = self._discovery()
        if value is None and tag == "5FC10C":
            value = T.tlv(0x53, T.tlv(0xC1, b"\x00") + T.tlv(0xC2, b"\x00") + T.tlv(0xFE, b""))
        if value is None:
            return b"", SW_NOT_FOUND
        return value, SW_OK

    def _discovery(self):
        # PIV AID, PIN usage policy 40 00: the PIV application PIN only.
        return T.tlv(0x7E, T.tlv(0x4F, PIV_AID) + T.tlv(0x5F2F, b"\x40\x00"))

    def _put_data(self, apdu):
        if not self.mgmt_authenticated:
            return b"", SW_SECURITY
        tag, err = self._object_tag(apdu)
        if err:
            return b"", err
        value = apdu.data[apdu.data[1] + 2:]
        if tag == "7E" or not value:
            return b"", SW_WRONG_DATA
        self.state.put_object(tag, value)
        self.state.save()
        self.log("PUT DATA %s (%d bytes)" % (tag, len(value)))
        return b"", SW_OK

    # --- PIN and PUK -------------------------------------------------------------------------
    @staticmethod
    def _unpad(field):
        return field.rstrip(b"\xff")

    def _check_reference(self, ref, given):
        """Compare against PIN (80) or PUK (81), counting a failure. Returns a status word."""
        st = self.state
        if st.tries_left(ref) == 0:
            return SW_BLOCKED
        if self._unpad(given) == st.secret(ref).encode():
            if st.tries_left(ref) != st.max_tries(ref):
                st.set_tries_left(ref, st.max_tries(ref))
                st.save()
            return SW_OK
        left = st.tries_left(ref) - 1
        st.set_tries_left(ref, left)
        st.save()
        self.log("wrong %s, %d tries left" % ("PIN" if ref == 0x80 else "PUK", left))
        return bytes([0x63, 0xC0 | left])

    def _verify(self, apdu):
        if apdu.p2 != 0x80:
            return b"", SW_REF_NOT_FOUND
        if apdu.p1 == 0xFF:  # reset the PIN's security status (SP 800-73-4 3.2.1)
            if apdu.data:
                return b"", SW_WRONG_P1P2
            self.pin_verified = self.pin_always = False
            return b"", SW_OK
        if apdu.p1 != 0x00:
            return b"", SW_WRONG_P1P2
        if not apdu.data:  # status: verified, or the tries left
            if self.state.tries_left(0x80) == 0:
                return b"", SW_BLOCKED
            if self.pin_verified:
                return b"", SW_OK
            return b"", bytes([0x63, 0xC0 | self.state.tries_left(0x80)])
        if len(apdu.data) != 8:
            return b"", SW_WRONG_DATA
        # Every PIN presented is logged (not the PIN), so a test can prove none reached the card.
        self.log("VERIFY with a PIN")
        sw = self._check_reference(0x80, apdu.data)
        self.pin_verified = self.pin_always = sw == SW_OK
        return b"", sw

    @staticmethod
    def _valid_new(ref, value):
        if ref == 0x80:
            return 6 <= len(value) <= 8 and value.isdigit()
        return len(value) == 8

    def _change_reference(self, apdu):
        ref = apdu.p2
        if apdu.p1 != 0x00 or ref not in (0x80, 0x81):
            return b"", SW_REF_NOT_FOUND
        if len(apdu.data) != 16:
            return b"", SW_WRONG_DATA
        new = self._unpad(apdu.data[8:])
        if not self._valid_new(ref, new):
            return b"", SW_WRONG_DATA
        sw = self._check_reference(ref, apdu.data[:8])
        if sw == SW_OK:
            self.state.set_secret(ref, new.decode())
            self.state.save()
            self.log("%s changed" % ("PIN" if ref == 0x80 else "PUK"))
        elif ref == 0x80:
            self.pin_verified = False
        return b"", sw

    def _reset_retry_counter(self, apdu):
        if apdu.p1 != 0x00 or apdu.p2 != 0x80:
            return b"", SW_REF_NOT_FOUND
        if len(apdu.data) != 16:
            return b"", SW_WRONG_DATA
        new = self._unpad(apdu.data[8:])
        if not self._valid_new(0x80, new):
            return b"", SW_WRONG_DATA
        sw = self._check_reference(0x81, apdu.data[:8])
        if sw == SW_OK:
            self.state.set_secret(0x80, new.decode())
            self.state.set_tries_left(0x80, self.state.max_tries(0x80))
            self.state.save()
            self.pin_verified = False
            self.log("PIN unblocked with the PUK")
        return b"", sw

    # --- GENERAL AUTHENTICATE ----------------------------------------------------------------
    def _general_authenticate(self, apdu):
        try:
            outer = T.parse(apdu.data)
            template = T.find(outer, 0x7C)
            if template is None:
                return b"", SW_WRONG_DATA
            items = T.parse(template)
        except T.TlvError:
            return b"", SW_WRONG_DATA
        if apdu.p2 == MGMT_REF:
            return self._management_auth(apdu.p1, items)
        if apdu.p2 in KEY_SLOTS:
            return self._private_key_op(apdu.p1, apdu.p2, items)
        return b"", SW_REF_NOT_FOUND

    def _management_auth(self, alg, items):
        mk = self.state.management_key()
        witness = T.find(items, 0x80)
        challenge = T.find(items, 0x81)
        response = T.find(items, 0x82)
        if alg not in SYMMETRIC:
            return b"", SW_WRONG_P1P2
        if challenge == b"" and witness is None and response is None:
            # Request for a challenge: external authentication, or GET CHALLENGE as OpenSC
            # uses it for random bytes (with P1 00 whatever the key is).
            if mk.accepts(alg):
                self.mgmt_challenge = nonce = mk.nonce()
            else:  # random bytes only; no authentication can follow
                self.mgmt_challenge = None
                nonce = os.urandom(8 if SYMMETRIC[alg][0] == "3des" else 16)
            return T.tlv(0x7C, T.tlv(0x81, nonce)), SW_OK
        if not mk.accepts(alg):
            return b"", SW_WRONG_P1P2
        if witness == b"" and challenge is None:  # mutual authentication, step 1
            self.mgmt_witness = mk.nonce()
            self.mgmt_authenticated = False
            return T.tlv(0x7C, T.tlv(0x80, mk.encrypt(self.mgmt_witness))), SW_OK
        if witness and challenge is not None:  # mutual authentication, step 2
            expected, self.mgmt_witness = self.mgmt_witness, None
            if expected is None or not mk.same(witness, expected):
                self.log("management key: wrong witness")
                return b"", SW_SECURITY
            if len(challenge) != mk.block_size:
                return b"", SW_WRONG_DATA
            self.mgmt_authenticated = True
            self.log("management key authenticated (mutual)")
            return T.tlv(0x7C, T.tlv(0x82, mk.encrypt(challenge))), SW_OK
        if response and witness is None and challenge is None:  # external authentication
            expected, self.mgmt_challenge = self.mgmt_challenge, None
            if expected is None or not mk.same(response, mk.encrypt(expected)):
                self.log("management key: wrong response")
                return b"", SW_SECURITY
            self.mgmt_authenticated = True
            self.log("management key authenticated (external)")
            return b"", SW_OK
        return b"", SW_WRONG_DATA

    def _private_key_op(self, alg, slot, items):
        key = self.state.keys.get("%02X" % slot)
        if key is None:
            return b"", SW_REF_NOT_FOUND
        if alg != key.alg:
            return b"", SW_WRONG_P1P2
        if slot == 0x9C and not (self.pin_verified and self.pin_always):
            return b"", SW_SECURITY
        if slot in (0x9A, 0x9D) and not self.pin_verified:
            return b"", SW_SECURITY
        if T.find(items, 0x82) != b"":
            return b"", SW_WRONG_DATA
        challenge = T.find(items, 0x81)
        exponentiation = T.find(items, 0x85)
        try:
            if challenge is not None:
                result = key.raw_rsa(challenge) if key.is_rsa else key.ecdsa(challenge)
            elif exponentiation is not None and not key.is_rsa:
                result = key.ecdh(exponentiation)
            else:
                return b"", SW_WRONG_DATA
        except ValueError:
            return b"", SW_WRONG_DATA
        self.log("GENERAL AUTHENTICATE %02X alg %02X" % (slot, alg))
        return T.tlv(0x7C, T.tlv(0x82, result)), SW_OK

    # --- GENERATE ASYMMETRIC KEY PAIR --------------------------------------------------------
    def _generate(self, apdu):
        if not self.mgmt_authenticated:
            return b"", SW_SECURITY
        if apdu.p1 != 0x00 or apdu.p2 not in KEY_SLOTS:
            return b"", SW_WRONG_P1P2
        try:
            control = T.find(T.parse(apdu.data), 0xAC)
            alg = T.find(T.parse(control or b""), 0x80)
        except T.TlvError:
            return b"", SW_WRONG_DATA
        if alg is None or len(alg) != 1 or alg[0] not in ASYMMETRIC:
            return b"", SW_WRONG_DATA
        key = CardKey.generate(alg[0])
        self.state.keys["%02X" % apdu.p2] = key
        self.state.save()
        self.log("generated %02X alg %02X" % (apdu.p2, alg[0]))
        return key.public_template(), SW_OK
