"""The virtual card's side of vpcd's socket protocol (vsmartcard 0.8): every message is a
2-byte big-endian length and a payload. A 1-byte payload from vpcd is a control message
(0 power off, 1 power on, 2 reset, 4 get ATR; only the ATR is answered); anything longer is an
APDU and gets its response. vpcd sees the card as present while this connection is open."""

import socket
import time

POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4

# T=1 card; historical bytes 80 F9 <PIV AID>: a compact TLV that OpenSC 0.23 recognises as a
# PIV card "with the AID in its ATR" (SC_CARD_TYPE_PIV_II_HIST: no work-arounds for card bugs).
_HIST = bytes.fromhex("80F9A00000030800001000")


def make_atr():
    body = bytes([0x80 | len(_HIST), 0x80, 0x01]) + _HIST  # T0, TD1 (T=0, TD2 follows), TD2 T=1
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


ATR = make_atr()


class LinkClosed(Exception):
    pass


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        # vpcd writes the length and the payload separately and without TCP_NODELAY: Nagle
        # holds the payload until the length is ACKed, and a delayed ACK would cost ~40 ms per
        # APDU. Linux clears quick-ACK mode after a while, so it is set before every read.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise LinkClosed()
        buf += chunk
    return buf


def connect(host, port, give_up_at=None):
    """Connect to vpcd, retrying while nothing listens yet (pcscd starting or restarting)."""
    while True:
        try:
            sock = socket.create_connection((host, port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError:
            if give_up_at is not None and time.monotonic() > give_up_at:
                raise
            time.sleep(0.05)


def serve(sock, applet, on_control=None):
    """Answer vpcd until it closes the connection (raises LinkClosed). on_control(code) is
    called after each control message."""
    while True:
        length = int.from_bytes(_recv_exact(sock, 2), "big")
        payload = _recv_exact(sock, length)
        if length == 1:
            code = payload[0]
            if code in (POWER_ON, RESET, POWER_OFF):
                applet.power_on()
            elif code == GET_ATR:
                sock.sendall(len(ATR).to_bytes(2, "big") + ATR)
            if on_control:
                on_control(code)
            continue
        response = applet.process(payload)
        sock.sendall(len(response).to_bytes(2, "big") + response)
