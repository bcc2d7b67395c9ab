"""A minimal CBOR encoder (RFC 8949) for DAG files.

Covers exactly the data model of a DAG document: maps with text keys, arrays,
text strings, integers, floats and booleans (plus null for completeness).
Floats are always written as float64 (major type 7, additional info 27): every
binary32 value is exact in float64, and one fixed width keeps the encoder
simple and its output deterministic.
"""
import struct
from itertools import repeat
from typing import Any, List

__all__ = ["encode", "encode_into", "encode_text", "array_head", "map_head", "uint_table", "pack_u32"]

# Major types (the top three bits of the initial byte).
_UINT, _NINT, _TEXT, _ARRAY, _MAP = 0, 1, 3, 4, 5

_FALSE, _TRUE, _NULL, _FLOAT64 = b"\xf4", b"\xf5", b"\xf6", 0xFB


def encode_head(major: int, n: int) -> bytes:
    """The initial byte and argument of a data item: `n` is the integer value,
    string length or element count, in the shortest form RFC 8949 allows."""
    if n < 0:
        raise ValueError("CBOR argument must be non-negative")
    if n < 24:
        return bytes((major << 5 | n,))
    if n < 1 << 8:
        return bytes((major << 5 | 24, n))
    if n < 1 << 16:
        return bytes((major << 5 | 25,)) + n.to_bytes(2, "big")
    if n < 1 << 32:
        return bytes((major << 5 | 26,)) + n.to_bytes(4, "big")
    if n < 1 << 64:
        return bytes((major << 5 | 27,)) + n.to_bytes(8, "big")
    raise OverflowError(f"integer {n} does not fit in a CBOR argument (64 bits)")


def encode_text(s: str) -> bytes:
    """The encoding of the text string `s` (what encode(s) gives, without its type dispatch)."""
    raw = s.encode("utf-8")
    return encode_head(_TEXT, len(raw)) + raw


def encode_into(out: bytearray, obj: Any) -> None:
    """Append the encoding of `obj` to `out`."""
    # bool first: it is a subclass of int.
    if obj is True:
        out += _TRUE
    elif obj is False:
        out += _FALSE
    elif obj is None:
        out += _NULL
    elif isinstance(obj, int):
        out += encode_head(_UINT, obj) if obj >= 0 else encode_head(_NINT, -1 - obj)
    elif isinstance(obj, float):
        out.append(_FLOAT64)
        out += struct.pack(">d", obj)
    elif isinstance(obj, str):
        raw = obj.encode("utf-8")
        out += encode_head(_TEXT, len(raw))
        out += raw
    elif isinstance(obj, (list, tuple)):
        out += encode_head(_ARRAY, len(obj))
        for item in obj:
            encode_into(out, item)
    elif isinstance(obj, dict):
        out += encode_head(_MAP, len(obj))
        for key, item in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"CBOR map keys must be strings here, not {type(key).__name__}")
            encode_into(out, key)
            encode_into(out, item)
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as CBOR")


def encode(obj: Any) -> bytes:
    """The CBOR encoding of `obj` (dict, list, tuple, str, int, float, bool or None)."""
    out = bytearray()
    encode_into(out, obj)
    return bytes(out)


_uint_cache: List[bytes] = []  # the encodings of 0 .. 65535, made on first use (about 2.4 MB)
_U16 = struct.Struct(">BH").pack  # the initial byte and a 16-bit argument, in one bytes object
_U32 = struct.Struct(">BI").pack
pack_u32 = _U32  # pack_u32(0x1A, n): the encoding of an unsigned integer n in four bytes


def uint_table(n: int) -> List[bytes]:
    """The encodings of the unsigned integers 0 .. n-1, in order (ids and arguments of a DAG).

    The one- to three-byte encodings (below 65536) are made once per
    process; the rest per call, with C-level loops (map)."""
    if not _uint_cache:
        _uint_cache.extend(bytes((i,)) for i in range(24))
        _uint_cache.extend(bytes((24, i)) for i in range(24, 256))
        _uint_cache.extend(map(_U16, repeat(0x19), range(256, 1 << 16)))
    if n <= 1 << 16:
        return _uint_cache[:n]
    table = _uint_cache[:]
    table.extend(map(_U32, repeat(0x1A), range(1 << 16, min(n, 1 << 32))))
    return table


def array_head(n: int) -> bytes:
    """Header of an array of `n` items, for writing the items one at a time."""
    return encode_head(_ARRAY, n)


def map_head(n: int) -> bytes:
    """Header of a map of `n` pairs, for writing the pairs one at a time."""
    return encode_head(_MAP, n)
