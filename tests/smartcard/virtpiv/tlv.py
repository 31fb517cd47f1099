"""BER-TLV as PIV uses it: tags of one to three bytes, definite lengths up to 0xFFFF."""


class TlvError(ValueError):
    pass


def encode_length(n):
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return bytes([0x82, n >> 8, n & 0xFF])
    raise TlvError("length %d does not fit a PIV object" % n)


def tlv(tag, value):
    """One TLV; tag is an int (0x7F49) or bytes."""
    if isinstance(tag, int):
        tag = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    return bytes(tag) + encode_length(len(value)) + bytes(value)


def _read_tag(buf, i):
    start = i
    if i >= len(buf):
        raise TlvError("tag missing")
    first = buf[i]
    i += 1
    if first & 0x1F == 0x1F:
        while True:
            if i >= len(buf):
                raise TlvError("tag truncated")
            b = buf[i]
            i += 1
            if not b & 0x80:
                break
    return bytes(buf[start:i]), i


def _read_length(buf, i):
    if i >= len(buf):
        raise TlvError("length missing")
    first = buf[i]
    i += 1
    if first < 0x80:
        return first, i
    count = first & 0x7F
    if count == 0 or count > 2 or i + count > len(buf):
        raise TlvError("unsupported length encoding")
    return int.from_bytes(buf[i:i + count], "big"), i + count


def parse(buf):
    """The TLVs at one level: a list of (tag bytes, value bytes). Raises TlvError."""
    out = []
    i = 0
    while i < len(buf):
        tag, i = _read_tag(buf, i)
        length, i = _read_length(buf, i)
        if i + length > len(buf):
            raise TlvError("value truncated")
        out.append((tag, bytes(buf[i:i + length])))
        i += length
    return out


def find(items, tag):
    """The value of the first TLV with this tag in a parse() list, or None."""
    if isinstance(tag, int):
        tag = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    for t, v in items:
        if t == tag:
            return v
    return None
