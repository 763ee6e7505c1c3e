"""Validation of an event against the contract and the centre's catalog (danh mục cơ quan, TTHC).

The contract alone cannot know which agencies and procedures exist; this is where the catalog rules
live, shared by the producer SDK (reject before sending) and the stream (dead-letter on arrival). The
stream's fast reader (`read_fast`, over the structs of `dossiers.fast_events`) is here too: mypyc compiles
this module with the core (`ioc.native`), and the stream reads every record through it (issue 19).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

import msgspec

from dossiers.catalog import Catalog
from dossiers.events import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    MAX_EVENT_BYTES,
    Event,
    EventRecord,
    EventType,
    InvalidEvent,
    parse_event,
)
from dossiers.fast_events import FastEvent, FastExtended, FastPaid, FastTransferred
from dossiers.lifecycle import procedure_table
from dossiers.plain_json import plain_object

# As compiled constants (a C static, not a read through the enum class's slot: `dossiers.lifecycle`)
_RECEIVED: Final = EventType.RECEIVED
_TRANSFERRED: Final = EventType.TRANSFERRED


_DECODE: Final = msgspec.json.Decoder(FastEvent).decode
# Imported names as compiled statics: mypyc reads an imported name from the module's dict at each use (a
# lookup per name per record; issue 19)
_MAX_EVENT_BYTES: Final = MAX_EVENT_BYTES
_EARLIEST_YEAR: Final = EARLIEST_YEAR
_LATEST_YEAR: Final = LATEST_YEAR
_FAST_TRANSFERRED: Final = FastTransferred
_FAST_EXTENDED: Final = FastExtended
_FAST_PAID: Final = FastPaid


def _in_years(moment: date | None) -> bool:
    """`in_contract_years` compiled here: a call into the interpreted contract module cost 0.9 % of the core
    (issue 19); tests/unit/test_fast_events.py holds the two to the same answer."""
    return moment is None or _EARLIEST_YEAR <= moment.year <= _LATEST_YEAR


def _long_fraction(value: object) -> bool:
    """A time with more than six decimals of a second: msgspec rounds them to microseconds where pydantic
    truncates (…00.123456789 is …00.123457 against …00.123456), so such an event goes to pydantic. Read
    in the time fields' text (until 2026-12-07 a regular expression searched the whole record: 3 % of the
    core's instructions, issue 19)."""
    if not isinstance(value, str):
        return False
    start = value.find(".")
    if start < 0:
        start = value.find(",")
        if start < 0:
            return False
    digits = 0
    for char in value[start + 1:]:
        if not "0" <= char <= "9":
            break
        digits += 1
    return digits > 6


def read_fast(raw: bytes) -> FastEvent | None:
    """The event in `raw` when msgspec accepts it and pydantic would accept it with the same values;
    None when not sure (then `dossiers.events.parse_event` decides, and words the error;
    `dossiers.fast_events` says why the two agree)."""
    # msgspec keeps the last of two equal keys (msgspec/msgspec#648): the plain-JSON round trip finds them
    body = plain_object(raw) if len(raw) <= _MAX_EVENT_BYTES else None
    if body is None:  # a key given twice, odd bytes: pydantic
        return None
    data = body.get("data")
    if (_long_fraction(body.get("occurred_at")) or _long_fraction(body.get("due_at"))
            or (isinstance(data, dict) and _long_fraction(data.get("new_due_at")))):
        return None
    try:
        event = _DECODE(raw)
    except (msgspec.MsgspecError, ValueError, OverflowError, RecursionError):
        return None
    if not (_in_years(event.occurred_at) and _in_years(event.due_at)):
        return None
    # each field read once: compiled, every read of a struct's attribute is a generic lookup (issue 19)
    dossier, agency, procedure = event.dossier, event.agency, event.procedure
    if (dossier.strip() != dossier or agency.strip() != agency
            or (procedure is not None and procedure.strip() != procedure)):
        return None
    # `type(...) is`, not `isinstance`: msgspec's struct classes have a metaclass, whose
    # `__instancecheck__` Python looks up and calls at each `isinstance` (1.7 % of the core, issue 19); no
    # fast struct has a subclass (tests/unit/test_fast_events.py)
    if type(event) is _FAST_TRANSFERRED and event.data is not None:
        to_agency = event.data.to_agency
        if to_agency is not None and to_agency.strip() != to_agency:
            return None
    if type(event) is _FAST_EXTENDED and not _in_years(event.data.new_due_at):
        return None
    if type(event) is _FAST_PAID and event.data.online and not event.data.receipt:
        return None
    return event


def check_against_catalog(event: EventRecord, catalog: Catalog) -> None:
    """Raise InvalidEvent when the event names an agency, procedure or channel the catalog lacks. Reads the
    catalog's plain table (`procedure_table`), not its pydantic models (1.6 % of the core, issue 19)."""
    table = procedure_table(catalog)
    agency = event.agency
    by_code = table.get(agency)
    if by_code is None:
        raise InvalidEvent(f"agency: {agency!r} is not an agency of the catalog", "unknown_agency")
    code = event.procedure
    procedure = None if code is None else by_code.get(code)
    if code is not None and procedure is None:
        raise InvalidEvent(
            f"procedure: {code!r} is not a procedure of agency {agency!r}", "unknown_procedure"
        )
    kind = event.type
    if kind is _RECEIVED:
        channel = event.channel
        if procedure is not None and channel is not None and channel not in procedure.channels:
            raise InvalidEvent(
                f"channel: {channel.value!r} is not open for procedure {procedure.code!r} "
                f"(allowed: {', '.join(procedure.channels)})",
                "channel_not_allowed",
            )
    elif kind is _TRANSFERRED:
        data = event.data
        to_agency = None if data is None else data.to_agency
        if to_agency and to_agency not in table:
            raise InvalidEvent(
                f"data.to_agency: {to_agency!r} is not an agency of the catalog", "unknown_agency"
            )


def validate_event(raw: bytes | str | dict[str, Any], catalog: Catalog | None = None) -> Event:
    """Parse against contract v1, then (when given) check against the catalog."""
    event = parse_event(raw)
    if catalog is not None:
        check_against_catalog(event, catalog)
    return event


def read_event(raw: bytes, catalog: Catalog) -> EventRecord:
    """What the stream reads: `validate_event`'s answer, by msgspec when it is sure (about 2 µs less per
    event, issue 19), else by pydantic, which also words every refusal (`dossiers.fast_events`)."""
    event: EventRecord | None = read_fast(raw)
    if event is None:
        event = parse_event(raw)
    check_against_catalog(event, catalog)
    return event
