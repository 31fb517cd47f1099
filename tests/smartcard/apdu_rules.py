#!/usr/bin/python3
"""PIV access rules checked with raw APDUs through pcscd (the virtual card in reader 0 must be
a fresh --provisioned card with PIN 123456): the things PKCS#11 tools cannot show directly,
such as 9C refusing a second signature after one VERIFY, and chaining in both directions."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402

from virtpiv import pcsc, tlv  # noqa: E402

PIN = b"123456".ljust(8, b"\xff")
MGMT_KEY = bytes.fromhex("010203040506070801020304050607080102030405060708")
failures = []


def check(name, cond):
    print("%s - %s" % ("ok" if cond else "not ok", name))
    if not cond:
        failures.append(name)


class Link:
    def __init__(self, reader):
        self.ctx = pcsc.Context()
        self.card = pcsc.Card(self.ctx, reader)

    def send(self, hexstr_or_bytes):
        apdu = bytes.fromhex(hexstr_or_bytes) if isinstance(hexstr_or_bytes, str) else hexstr_or_bytes
        resp = self.card.transmit(apdu)
        data, sw = resp[:-2], resp[-2:]
        while sw[0] == 0x61:  # response chaining
            more = self.card.transmit(bytes([0, 0xC0, 0, 0, sw[1]]))
            data, sw = data + more[:-2], more[-2:]
        return data, sw.hex().upper()


def short(cla, ins, p1, p2, data, le=True):
    return bytes([cla, ins, p1, p2, len(data)]) + data + (b"\x00" if le else b"")


def certificate(link, tag):
    data, sw = link.send(short(0, 0xCB, 0x3F, 0xFF, tlv.tlv(0x5C, bytes.fromhex(tag))))
    body = tlv.find(tlv.parse(data), 0x53)
    return x509.load_der_x509_certificate(tlv.find(tlv.parse(body), 0x70))


def ecdsa_apdu(slot, digest):
    return short(0, 0x87, 0x11, slot, tlv.tlv(0x7C, tlv.tlv(0x82, b"") + tlv.tlv(0x81, digest)))


def ecdsa_valid(cert, data, sig):
    try:
        cert.public_key().verify(sig, data, ec.ECDSA(hashes.SHA256()))
        return True
    except Exception:
        return False


def main():
    link = Link(pcsc.Context().readers()[0])
    data, sw = link.send("00A4040009A00000030800001000" + "00")
    check("SELECT PIV answers the application property template", sw == "9000" and data[:1] == b"\x61")
    link.send("0020FF80")  # start unverified: pcscd may or may not have reset the card
    data, sw = link.send("00A4040007A000000527210100")
    check("SELECT of another application: 6A82", sw == "6A82")

    msg = b"attache apdu rules"
    h = hashes.Hash(hashes.SHA256())
    h.update(msg)
    digest = h.finalize()
    sig, sw = link.send(ecdsa_apdu(0x9E, digest))
    sig = tlv.find(tlv.parse(tlv.find(tlv.parse(sig), 0x7C) or b""), 0x82) if sw == "9000" else b""
    check("9E signs without the PIN", sw == "9000" and ecdsa_valid(certificate(link, "5FC101"), msg, sig))

    _, sw = link.send(ecdsa_apdu(0x9C, digest))
    check("9C refuses without the PIN: 6982", sw == "6982")
    _, sw = link.send("0020008000")
    check("VERIFY without data reports 3 tries: 63C3", sw == "63C3")
    _, sw = link.send(short(0, 0x20, 0, 0x80, PIN, le=False))
    check("VERIFY with the PIN: 9000", sw == "9000")
    _, sw = link.send("0020008000")
    check("VERIFY without data once verified: 9000", sw == "9000")
    sig, sw = link.send(ecdsa_apdu(0x9C, digest))
    sig = tlv.find(tlv.parse(tlv.find(tlv.parse(sig), 0x7C) or b""), 0x82) if sw == "9000" else b""
    check("9C signs right after VERIFY", sw == "9000" and ecdsa_valid(certificate(link, "5FC10A"), msg, sig))
    _, sw = link.send(ecdsa_apdu(0x9C, digest))
    check("9C refuses a second signature for one VERIFY: 6982", sw == "6982")
    link.send(short(0, 0x20, 0, 0x80, PIN, le=False))
    link.send("00CB3FFF055C035FC10200")
    _, sw = link.send(ecdsa_apdu(0x9C, digest))
    check("9C refuses when another command came after VERIFY: 6982", sw == "6982")

    # RSA-2048 raw on 9A: 256 bytes of input do not fit one short APDU (chained, CLA 10), and
    # the 264-byte answer comes in two parts (61 08, GET RESPONSE).
    cert9a = certificate(link, "5FC105")
    block = b"\x00\x01" + b"\xff" * 200 + b"\x00" + bytes(range(53))
    body = tlv.tlv(0x7C, tlv.tlv(0x82, b"") + tlv.tlv(0x81, block))
    first = short(0x10, 0x87, 0x07, 0x9A, body[:200], le=False)
    _, sw1 = link.send(first)
    out, sw = link.send(short(0, 0x87, 0x07, 0x9A, body[200:]))
    raw = tlv.find(tlv.parse(tlv.find(tlv.parse(out), 0x7C) or b""), 0x82) if sw == "9000" else b""
    n = cert9a.public_key().public_numbers()
    check("chained RSA-2048 raw signature on 9A with GET RESPONSE",
          sw1 == "9000" and sw == "9000" and
          pow(int.from_bytes(raw, "big"), n.e, n.n) == int.from_bytes(block, "big"))

    _, sw = link.send("00200080" + "00")
    check("PIN still verified for 9A after 9C use: 9000", sw == "9000")
    _, sw = link.send("00 20 FF 80".replace(" ", ""))
    _, sw2 = link.send("0020008000")
    check("VERIFY P1=FF resets the PIN status", sw == "9000" and sw2 == "63C3")
    _, sw = link.send(short(0, 0x47, 0, 0x9A, bytes.fromhex("AC03800111")))
    check("GENERATE without the management key: 6982", sw == "6982")
    _, sw = link.send(short(0, 0xDB, 0x3F, 0xFF, bytes.fromhex("5C035FC109530100"), le=False))
    check("PUT DATA without the management key: 6982", sw == "6982")
    _, sw = link.send(short(0, 0x87, 0x03, 0x9B, bytes.fromhex("7C0A8008") + bytes(8)))
    check("a management key witness never asked for: refused",
          sw in ("6982", "6A80"))

    # Management key, 3DES: external authentication (OpenSC 0.23's piv-tool -A A:9B:03 fails
    # its own length check before answering, so only raw APDUs reach it) and mutual.
    def tdes(block, decrypt=False):
        c = Cipher(algorithms.TripleDES(MGMT_KEY), modes.ECB())
        op = c.decryptor() if decrypt else c.encryptor()
        return op.update(block) + op.finalize()

    def template_value(data, tag):
        return tlv.find(tlv.parse(tlv.find(tlv.parse(data), 0x7C) or b""), tag)

    data, sw = link.send(short(0, 0x87, 0x03, 0x9B, bytes.fromhex("7C028100")))
    challenge = template_value(data, 0x81) if sw == "9000" else b""
    _, sw = link.send(short(0, 0x87, 0x03, 0x9B,
                            tlv.tlv(0x7C, tlv.tlv(0x82, tdes(challenge))), le=False))
    put = short(0, 0xDB, 0x3F, 0xFF, bytes.fromhex("5C035FC10953035A0100"), le=False)
    _, sw2 = link.send(put)
    check("external authentication with the 3DES management key, then PUT DATA",
          len(challenge) == 8 and sw == "9000" and sw2 == "9000")
    link.card.close()
    link = Link(pcsc.Context().readers()[0])  # a new connection; the card keeps its state
    data, sw = link.send(short(0, 0x87, 0x03, 0x9B, bytes.fromhex("7C028000")))
    witness = tdes(template_value(data, 0x80), decrypt=True) if sw == "9000" else b""
    mine = bytes(range(8))
    data, sw = link.send(short(0, 0x87, 0x03, 0x9B, tlv.tlv(0x7C, tlv.tlv(0x80, witness) +
                                                            tlv.tlv(0x81, mine))))
    check("mutual authentication: the card proves the key too",
          sw == "9000" and template_value(data, 0x82) == tdes(mine))
    link.send(short(0, 0x20, 0, 0x80, PIN, le=False))
    data, sw = link.send("00CB3FFF055C035FC10900")
    check("the printed information object written, readable with the PIN",
          sw == "9000" and data == bytes.fromhex("53035A0100"))
    link.card.close()
    if failures:
        print("%d APDU rule(s) failed" % len(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
