"""The card's asymmetric keys and management key: generation, storage form and the raw
operations GENERAL AUTHENTICATE performs. Uses python3-cryptography (Debian 12: 38.0)."""

import hmac
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .tlv import tlv

# PIV algorithm identifiers (SP 800-78-4 table 6-2) this card implements.
ASYMMETRIC = {
    0x06: ("rsa", 1024),
    0x07: ("rsa", 2048),
    0x05: ("rsa", 3072),
    0x11: ("ec", 256),
    0x14: ("ec", 384),
}
ALG_BY_NAME = {"rsa1024": 0x06, "rsa2048": 0x07, "rsa3072": 0x05, "p256": 0x11, "p384": 0x14}
NAME_BY_ALG = {v: k for k, v in ALG_BY_NAME.items()}

# Management key algorithms: 00 and 03 are three-key 3DES, 08/0A/0C AES-128/192/256.
SYMMETRIC = {0x00: ("3des", 24), 0x03: ("3des", 24), 0x08: ("aes", 16), 0x0A: ("aes", 24),
             0x0C: ("aes", 32)}

_CURVES = {256: ec.SECP256R1, 384: ec.SECP384R1}


class CardKey:
    """A private key in a slot, with its PIV algorithm identifier."""

    def __init__(self, alg, private_key):
        self.alg = alg
        self.private_key = private_key

    @classmethod
    def generate(cls, alg):
        kind, size = ASYMMETRIC[alg]
        if kind == "rsa":
            return cls(alg, rsa.generate_private_key(public_exponent=65537, key_size=size))
        return cls(alg, ec.generate_private_key(_CURVES[size]()))

    @classmethod
    def from_state(cls, entry):
        key = serialization.load_pem_private_key(entry["pem"].encode(), password=None)
        return cls(int(entry["alg"]), key)

    def to_state(self):
        pem = self.private_key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        return {"alg": self.alg, "name": NAME_BY_ALG[self.alg], "pem": pem.decode()}

    @property
    def is_rsa(self):
        return ASYMMETRIC[self.alg][0] == "rsa"

    @property
    def size(self):
        return ASYMMETRIC[self.alg][1]

    def public_pem(self):
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def public_template(self):
        """The 7F49 public key template GENERATE ASYMMETRIC KEY PAIR answers with."""
        pub = self.private_key.public_key()
        if self.is_rsa:
            nums = pub.public_numbers()
            n = nums.n.to_bytes(self.size // 8, "big")
            e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
            return tlv(0x7F49, tlv(0x81, n) + tlv(0x82, e))
        point = pub.public_bytes(serialization.Encoding.X962,
                                 serialization.PublicFormat.UncompressedPoint)
        return tlv(0x7F49, tlv(0x86, point))

    def raw_rsa(self, block):
        """m^d mod n on a block as long as the modulus (the host has padded it)."""
        nums = self.private_key.private_numbers()
        n = nums.public_numbers.n
        m = int.from_bytes(block, "big")
        if len(block) != self.size // 8 or m >= n:
            raise ValueError("input is not a block below the modulus")
        s1 = pow(m, nums.dmp1, nums.p)
        s2 = pow(m, nums.dmq1, nums.q)
        s = s2 + nums.q * ((nums.iqmp * (s1 - s2)) % nums.p)
        return s.to_bytes(self.size // 8, "big")

    def ecdsa(self, digest):
        """ECDSA over a digest the host computed; returns the DER SEQUENCE of r and s.
        A digest longer than the order is cut to its leftmost bytes, a shorter one taken as
        its integer value (both as ECDSA defines it)."""
        nbytes = self.size // 8
        if len(digest) > nbytes:
            digest = digest[:nbytes]
        digest = digest.rjust(nbytes, b"\0")
        algo = hashes.SHA256() if nbytes == 32 else hashes.SHA384()
        return self.private_key.sign(digest, ec.ECDSA(utils.Prehashed(algo)))

    def ecdh(self, point):
        """The x coordinate shared with the peer's uncompressed point."""
        curve = _CURVES[self.size]()
        peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        return self.private_key.exchange(ec.ECDH(), peer)


class ManagementKey:
    """The 9B card management key: a block cipher for challenge-response."""

    def __init__(self, alg, key):
        kind, length = SYMMETRIC[alg]
        if len(key) != length:
            raise ValueError("management key for algorithm %02X must be %d bytes" % (alg, length))
        self.alg = alg
        self.key = key
        self.kind = kind

    @property
    def block_size(self):
        return 8 if self.kind == "3des" else 16

    def accepts(self, alg):
        """Whether GENERAL AUTHENTICATE's P1 names this key's algorithm."""
        if self.kind == "3des":
            return alg in (0x00, 0x03)
        return alg == self.alg

    def _cipher(self):
        algo = algorithms.TripleDES(self.key) if self.kind == "3des" else algorithms.AES(self.key)
        return Cipher(algo, modes.ECB())

    def encrypt(self, block):
        enc = self._cipher().encryptor()
        return enc.update(block) + enc.finalize()

    def nonce(self):
        return os.urandom(self.block_size)

    @staticmethod
    def same(a, b):
        return hmac.compare_digest(a, b)
