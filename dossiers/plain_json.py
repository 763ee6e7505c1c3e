"""Plain JSON read by msgspec (JSON thuần): the first step of reading every event on the wire.

Its own module so that mypyc compiles it with the core (`ioc.native`): the stream calls it once per
record, and as interpreted Python its frame and bytecode cost more than the two msgspec calls it makes
(issue 19). `dossiers.events.decode_object` and the stream's fast reader (`dossiers.validation`) use it.
"""

from __future__ import annotations

import sys
from typing import Any, Final

import msgspec

_FAST_DECODE: Final = msgspec.json.Decoder().decode
_FAST_ENCODE: Final = msgspec.json.Encoder().encode
_MAX_DIGITS: Final = sys.get_int_max_str_digits
"""The function, bound once (compiled, a static, not `sys`'s attribute read per record); called per record,
since the limit may be set at any time."""


def plain_object(raw: bytes) -> dict[str, Any] | None:
    """The object `raw` holds when it is plain compact JSON, else None (then `decode_object` reads it
    the slow way, which also says what is wrong).

    Plain: msgspec writes back exactly `raw` from what it read (about 0.8 µs against 2.6 µs for the
    standard decoder with its duplicate-key hook; issue 19). The round trip is what makes it safe:
    msgspec keeps the last of two equal keys, and a dict written back then lacks the other, so an
    object with a key twice, at any depth, is never plain; nor is text with escapes msgspec would not
    write, invalid UTF-8, or a top level that is not an object. Under `sys.get_int_max_str_digits()`
    bytes no number can be longer than `json.loads` takes, so both decoders read the same values."""
    limit = _MAX_DIGITS()
    if limit and len(raw) > limit:
        return None
    try:
        body = _FAST_DECODE(raw)
        if type(body) is dict and _FAST_ENCODE(body) == raw:
            return body
    except (msgspec.MsgspecError, RecursionError, ValueError, OverflowError):  # UnicodeError is a ValueError
        pass
    return None
