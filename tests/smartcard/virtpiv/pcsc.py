"""A few PC/SC calls through ctypes on pcsc-lite's libpcsclite.so.1: list readers, wait for
a card to come or go, and exchange raw APDUs (for the stack's checks and latency numbers)."""

import ctypes

DWORD = ctypes.c_ulong  # pcsc-lite on Linux: DWORD and LONG are C long
LONG = ctypes.c_long
SCARD_SCOPE_SYSTEM = 2
SCARD_SHARE_SHARED = 2
SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1 = 1, 2
SCARD_LEAVE_CARD = 0
SCARD_STATE_UNAWARE, SCARD_STATE_CHANGED = 0x0, 0x2
SCARD_STATE_EMPTY, SCARD_STATE_PRESENT = 0x10, 0x20
SCARD_E_TIMEOUT = 0x8010000A


class ReaderState(ctypes.Structure):
    _fields_ = [("reader", ctypes.c_char_p), ("user", ctypes.c_void_p),
                ("current", DWORD), ("event", DWORD), ("atr_len", DWORD),
                ("atr", ctypes.c_ubyte * 33)]


class IoRequest(ctypes.Structure):
    _fields_ = [("protocol", DWORD), ("pci_length", DWORD)]


class PcscError(RuntimeError):
    def __init__(self, what, rv):
        super().__init__("%s failed: 0x%08X" % (what, rv & 0xFFFFFFFF))
        self.rv = rv & 0xFFFFFFFF


_lib = ctypes.CDLL("libpcsclite.so.1")


def _check(what, rv):
    if rv != 0:
        raise PcscError(what, rv)


class Context:
    def __init__(self):
        self.handle = LONG()
        _check("SCardEstablishContext",
               _lib.SCardEstablishContext(DWORD(SCARD_SCOPE_SYSTEM), None, None,
                                          ctypes.byref(self.handle)))

    def close(self):
        _lib.SCardReleaseContext(self.handle)

    def readers(self):
        size = DWORD(0)
        rv = _lib.SCardListReaders(self.handle, None, None, ctypes.byref(size))
        if rv == 0x8010002E:  # SCARD_E_NO_READERS_AVAILABLE
            return []
        _check("SCardListReaders", rv)
        buf = ctypes.create_string_buffer(size.value)
        _check("SCardListReaders",
               _lib.SCardListReaders(self.handle, None, buf, ctypes.byref(size)))
        return [r.decode() for r in buf.raw[:size.value].split(b"\0") if r]

    def card_present(self, reader):
        st = ReaderState(reader.encode(), None, SCARD_STATE_UNAWARE, 0, 0)
        _check("SCardGetStatusChange",
               _lib.SCardGetStatusChange(self.handle, DWORD(0), ctypes.byref(st), DWORD(1)))
        return bool(st.event & SCARD_STATE_PRESENT)

    def wait_for(self, reader, present, timeout_ms):
        """Block in pcscd until the reader has (or has no) card; False on timeout."""
        st = ReaderState(reader.encode(), None, SCARD_STATE_UNAWARE, 0, 0)
        rv = _lib.SCardGetStatusChange(self.handle, DWORD(0), ctypes.byref(st), DWORD(1))
        _check("SCardGetStatusChange", rv)
        while bool(st.event & SCARD_STATE_PRESENT) != present:
            st.current = st.event & ~SCARD_STATE_CHANGED
            rv = _lib.SCardGetStatusChange(self.handle, DWORD(timeout_ms), ctypes.byref(st),
                                           DWORD(1))
            if rv & 0xFFFFFFFF == SCARD_E_TIMEOUT:
                return False
            _check("SCardGetStatusChange", rv)
        return True


class Card:
    def __init__(self, context, reader):
        self.handle = LONG()
        self.protocol = DWORD()
        _check("SCardConnect",
               _lib.SCardConnect(context.handle, reader.encode(), DWORD(SCARD_SHARE_SHARED),
                                 DWORD(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1),
                                 ctypes.byref(self.handle), ctypes.byref(self.protocol)))
        self.pci = IoRequest(self.protocol.value, ctypes.sizeof(IoRequest))

    def transmit(self, apdu):
        out = ctypes.create_string_buffer(65538)
        out_len = DWORD(len(out))
        _check("SCardTransmit",
               _lib.SCardTransmit(self.handle, ctypes.byref(self.pci), bytes(apdu),
                                  DWORD(len(apdu)), None, out, ctypes.byref(out_len)))
        return out.raw[:out_len.value]

    def close(self):
        _lib.SCardDisconnect(self.handle, DWORD(SCARD_LEAVE_CARD))
