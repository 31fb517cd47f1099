"""Making a card: a blank one (PIN, PUK, management key, CHUID and CCC only) or a
pre-provisioned one (a key and a self-signed certificate in each of 9A, 9C, 9D, 9E)."""

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from . import tlv as T
from .keys import ALG_BY_NAME, CardKey, ManagementKey
from .state import CardState

DEFAULT_PIN = "123456"
DEFAULT_PUK = "12345678"
DEFAULT_MGMT_KEY = "010203040506070801020304050607080102030405060708"  # the PIV default, 3DES
PROVISIONED = {"9A": "rsa2048", "9C": "p256", "9D": "rsa2048", "9E": "p256"}
CERT_TAGS = {"9A": "5FC105", "9C": "5FC10A", "9D": "5FC10B", "9E": "5FC101"}
# FASC-N with agency code 9999 ("not a federal card"): OpenSC then uses the GUID as serial.
FASCN_9999 = bytes.fromhex("D4E739DA739CED39CE739D836858210842108421C84210C3EB")


def chuid(guid):
    body = (T.tlv(0x30, FASCN_9999) + T.tlv(0x34, guid) + T.tlv(0x35, b"20991231") +
            T.tlv(0x3E, b"") + T.tlv(0xFE, b""))
    return T.tlv(0x53, body)


def ccc(card_id):
    body = (T.tlv(0xF0, bytes.fromhex("A000000116FF02") + card_id) +
            T.tlv(0xF1, b"\x21") + T.tlv(0xF2, b"\x21") + T.tlv(0xF3, b"") +
            T.tlv(0xF4, b"\x00") + T.tlv(0xF5, b"\x10") + T.tlv(0xF6, b"") + T.tlv(0xF7, b"") +
            T.tlv(0xFA, b"") + T.tlv(0xFB, b"") + T.tlv(0xFC, b"") + T.tlv(0xFD, b"") +
            T.tlv(0xFE, b""))
    return T.tlv(0x53, body)


def certificate_object(der):
    return T.tlv(0x53, T.tlv(0x70, der) + T.tlv(0x71, b"\x00") + T.tlv(0xFE, b""))


def _key_usage(slot, key):
    sign = slot != "9D"
    agree = slot == "9D" and not key.is_rsa
    return x509.KeyUsage(digital_signature=sign, content_commitment=slot == "9C",
                         key_encipherment=slot == "9D" and key.is_rsa, data_encipherment=False,
                         key_agreement=agree, key_cert_sign=False, crl_sign=False,
                         encipher_only=False, decipher_only=False)


def self_signed(slot, key, serial_hex):
    """A certificate for the slot's key, signed by that key (a test card has no issuer)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         "Attache virtual PIV %s %s" % (slot, serial_hex))])
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    builder = (x509.CertificateBuilder()
               .subject_name(name).issuer_name(name)
               .public_key(key.private_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=3650))
               .add_extension(_key_usage(slot, key), critical=True))
    if slot == "9D" and not key.is_rsa:
        # An ECDH-only key cannot sign its own certificate; a throwaway issuer key does.
        signer = CardKey.generate(0x11).private_key
    else:
        signer = key.private_key
    return builder.sign(signer, hashes.SHA256()).public_bytes(Encoding.DER)


def create(directory, serial_hex=None, layout=None, pin=DEFAULT_PIN, puk=DEFAULT_PUK,
           mgmt_alg=0x03, mgmt_key_hex=DEFAULT_MGMT_KEY, pin_tries=3, puk_tries=3):
    """layout: {slot: algorithm name} for keys with certificates, {} for a blank card."""
    # OpenSC's PKCS#11 token serial is the last 16 hex digits of the GUID: a serial of up to
    # 16 digits is stored right-aligned, so it is the token's serial as given.
    serial_hex = (serial_hex or os.urandom(8).hex()).lower()
    guid = bytes.fromhex(serial_hex.rjust(32, "0"))
    if len(guid) != 16:
        raise ValueError("the serial is at most 32 hex digits")
    ManagementKey(mgmt_alg, bytes.fromhex(mgmt_key_hex))  # validates length
    data = {
        "serial": serial_hex, "pin": pin, "puk": puk,
        "pin_tries_left": pin_tries, "pin_max_tries": pin_tries,
        "puk_tries_left": puk_tries, "puk_max_tries": puk_tries,
        "management_key": {"alg": mgmt_alg, "key": mgmt_key_hex},
        "objects": {"5FC102": chuid(guid).hex(), "5FC107": ccc(guid[:14]).hex()},
        "keys": {},
    }
    state = CardState(directory, data)
    for slot, name in (layout or {}).items():
        key = CardKey.generate(ALG_BY_NAME[name])
        state.keys[slot] = key
        state.put_object(CERT_TAGS[slot], certificate_object(self_signed(slot, key, serial_hex)))
    os.makedirs(directory, exist_ok=True)
    state.save()
    return state
