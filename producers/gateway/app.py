"""The gateway's routes (aiohttp): events and DVCQG records in, per-item results out.

Why aiohttp: it measured the fastest of the three frameworks tried on this machine for this handler
(docs/gateway.md), it was already installed, and it brings the server, TLS and the test client in one
well-kept package. Every answer is acknowledged only once each accepted event is in Kafka (`acks=all`) or
in the durable SQLite spool: the SDK's `send_durable_many` batch says which.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from dossiers.catalog import Catalog
from dossiers.dvcqg import InvalidRecord, translate
from dossiers.events import Event, InvalidEvent, json_schema, parse_event
from dossiers.validation import check_against_catalog
from producers.files import BOM, MAX_JSON_LINE_BYTES, read_jsonl, split_lines
from producers.gateway.keys import KeyStore
from producers.gateway.settings import GatewaySettings
from producers.sdk import DurableBatch, EventProducer

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
ROUTE_EVENTS = "/v1/events"
ROUTE_DVCQG = "/v1/dvcqg/dossiers"
REMEMBERED_IDS = 200_000
"""Event ids acknowledged earlier that the gateway remembers, to answer `duplicate` without sending
(about 30 MB); an older repeat is sent again, and the stream drops it by its id."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Prometheus metrics of the gateway (requests, events by outcome, latency per route and agency)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("ioc_gateway_requests_total", "HTTP requests by route, agency and status",
                                ["route", "agency", "status"], registry=registry)
        self.events = Counter("ioc_gateway_events_total", "Posted events (or DVCQG records) by outcome",
                              ["route", "agency", "outcome"], registry=registry)
        self.latency = Histogram("ioc_gateway_request_seconds", "Request latency by route and agency",
                                 ["route", "agency"], buckets=LATENCY_BUCKETS, registry=registry)


@dataclass
class Gateway:
    """What the routes share: settings, keys, catalog, the producer (None while starting), metrics."""

    settings: GatewaySettings
    keys: KeyStore
    catalog: Catalog | None
    registry: CollectorRegistry
    producer: EventProducer | None = None
    pending: int = 0
    """Events handed to the producer whose future has not completed yet."""
    acked: OrderedDict[str, None] = field(default_factory=OrderedDict)
    metrics: Metrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.registry)

    def overloaded(self) -> str | None:
        """Why new events must wait (429), or None."""
        if self.pending >= self.settings.gateway_max_pending:
            return f"{self.pending} events are waiting for Kafka"
        producer = self.producer
        if producer is not None and producer.spool_depth >= self.settings.gateway_max_spool:
            return f"the spool holds {producer.spool_depth} events: the broker is behind"
        return None

    def remember(self, event_id: str) -> None:
        self.acked[event_id] = None
        if len(self.acked) > REMEMBERED_IDS:
            self.acked.popitem(last=False)


GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(body, ensure_ascii=False), status=status,
                        content_type="application/json", headers=headers)


def _problem(status: int, reason: str, retry_after: int | None = None) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return _json({"error": reason}, status, headers)


class _Duplicated(dict[str, Any]):
    """An object of a JSON array that named a key twice: refused like `decode_object` refuses a line."""

    reason = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body = dict(pairs)
    if len(body) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                bad = _Duplicated(body)
                bad.reason = f"{key}: given twice in one object (which one is meant?)"
                return bad
            seen.add(key)
    return body


JSON_LINES_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl",
                              "application/x-jsonlines"})
"""Content types that say "JSON lines": the body is then read as lines even if a line starts with `[`."""


def split_body(raw: bytes, json_lines: bool = False) -> Iterator[dict[str, Any] | InvalidEvent]:
    """The items of a body: a JSON array (or one object), or JSON lines; each a dict or why it is not.

    JSON lines go through `decode_object`, the door `ioc validate` uses, so each line gets the same
    message; an array's items get the same messages for the same faults. A body that is neither raises
    `InvalidEvent` (400).
    """
    raw = raw.removeprefix(BOM)  # RFC 8259 §8.1: a parser may ignore a byte order mark; spreadsheets add one
    text = raw.lstrip()
    if not json_lines and text.startswith(b"["):
        try:
            items = json.loads(raw, object_pairs_hook=_pairs)
        except (ValueError, RecursionError) as exc:
            raise InvalidEvent(f"body: not a JSON array ({exc})", "json") from exc
        if not isinstance(items, list):
            raise InvalidEvent("body: must be a JSON array or JSON lines", "not_array")
        for item in items:
            if isinstance(item, _Duplicated):
                yield InvalidEvent(item.reason, "json")
            elif not isinstance(item, dict):
                yield InvalidEvent("event: must be a JSON object", "not_object")
            else:
                yield item
        return
    # the file door's reader: LF, CRLF or lone CR line ends, overlong lines skipped unread, the same reasons
    for line in read_jsonl(split_lines([raw], MAX_JSON_LINE_BYTES)):
        if line.record is not None:
            yield line.record
        else:
            yield InvalidEvent(line.error or "unreadable line", line.code)


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The body, or 413 above `limit` (checked on Content-Length first, then while reading)."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


Handler = Callable[[web.Request, str], Awaitable[web.Response]]


def _authenticated(route: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Key check (401), start-up (503), overload (429), metrics and latency around a posting route."""

    async def wrapped(request: web.Request) -> web.Response:
        gw = request.app[GATEWAY]
        started = time.perf_counter()
        key = request.headers.get(API_KEY_HEADER) or ""
        auth = request.headers.get("Authorization", "")
        if not key and auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
        agency = gw.keys.agency(key) if key else None
        label = agency or "unauthenticated"
        try:
            if agency is None:
                response = _problem(401, "missing or unknown API key (send it as X-API-Key or "
                                         "Authorization: Bearer)")
            elif gw.producer is None:
                response = _problem(503, "the gateway is starting", gw.settings.gateway_retry_after)
            elif (why := gw.overloaded()) is not None:
                response = _problem(429, f"overloaded: {why}; retry later", gw.settings.gateway_retry_after)
            else:
                response = await handler(request, agency)
        except web.HTTPException as exc:
            response = _problem(exc.status, exc.reason if exc.status != 413 else
                                f"body over the {gw.settings.gateway_max_body_bytes}-byte limit")
        gw.metrics.requests.labels(route, label, str(response.status)).inc()
        gw.metrics.latency.labels(route, label).observe(time.perf_counter() - started)
        return response

    return wrapped


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():  # a request that timed out has cancelled nothing it shares: shielded
        future.set_result(None)


async def _deliver(gw: Gateway, events: list[Event], agency: str) -> list[str | BaseException | None]:
    """Hand events to the producer and wait until each is in Kafka or the spool ("kafka" / "spool")."""
    producer = gw.producer
    assert producer is not None
    if not events:
        return []
    loop = asyncio.get_running_loop()
    all_safe: asyncio.Future[None] = loop.create_future()

    def settled(_: DurableBatch) -> None:
        # the thread that settled the request's last event wakes the event loop, once per request
        loop.call_soon_threadsafe(_settle, all_safe)

    gw.pending += len(events)
    try:
        batch = await loop.run_in_executor(None, producer.send_durable_many, events, agency, settled)
        await asyncio.wait_for(asyncio.shield(all_safe), gw.settings.gateway_ack_timeout)
    finally:
        gw.pending -= len(events)
    return batch.outcomes


async def post_events(request: web.Request, agency: str) -> web.Response:
    """`POST /v1/events`: a JSON array or JSON lines of dossier-event/1; one result per event."""
    gw = request.app[GATEWAY]
    raw = await _read_body(request, gw.settings.gateway_max_body_bytes)
    try:
        items = list(split_body(raw, request.content_type in JSON_LINES_TYPES))
    except InvalidEvent as exc:
        return _problem(400, exc.reason)
    results: list[dict[str, Any]] = []
    to_send: list[tuple[int, Event]] = []
    seen: set[str] = set()
    foreign: list[int] = []
    for index, item in enumerate(items):
        if isinstance(item, InvalidEvent):
            results.append({"index": index, "status": "invalid", "code": item.code, "reason": item.reason})
            continue
        try:
            # no per-event size check for array items (it cost a fifth of the per-event time): the body
            # limit bounds the parsing, and the contract's field lengths refuse any event of 16 KiB
            event = parse_event(item)
        except InvalidEvent as exc:
            results.append({"index": index, "status": "invalid", "code": exc.code, "reason": exc.reason})
            continue
        if event.agency != agency and (gw.catalog is None or gw.catalog.agency(event.agency) is not None):
            # checked before the catalog: another agency's event is a 403; an unknown code is invalid below
            foreign.append(index)
            continue
        if gw.catalog is not None:
            try:
                check_against_catalog(event, gw.catalog)
            except InvalidEvent as exc:
                results.append({"index": index, "status": "invalid", "code": exc.code, "reason": exc.reason})
                continue
        if event.event_id in seen or event.event_id in gw.acked:
            results.append({"index": index, "event_id": event.event_id, "status": "duplicate"})
            continue
        seen.add(event.event_id)
        results.append({"index": index, "event_id": event.event_id, "status": "accepted"})
        to_send.append((index, event))
    if foreign:
        gw.metrics.events.labels(ROUTE_EVENTS, agency, "forbidden").inc(len(items))
        return _json({"error": f"this API key belongs to agency {agency!r}: events of another agency are "
                               f"refused (nothing of this request was accepted)",
                      "indexes": foreign[:100]}, 403)
    try:
        outcomes = await _deliver(gw, [e for _, e in to_send], agency)
    except TimeoutError:
        return _problem(504, "Kafka and the spool did not confirm in time; send again (duplicates are "
                             "dropped by event_id)")
    for (index, event), outcome in zip(to_send, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            results[index] = {"index": index, "event_id": event.event_id, "status": "error",
                              "reason": "not stored; send again"}
        else:
            gw.remember(event.event_id)
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    for outcome_name, count in counts.items():
        gw.metrics.events.labels(ROUTE_EVENTS, agency, outcome_name).inc(count)
    status = 500 if counts.get("error") else 200
    return _json({**{k: counts.get(k, 0) for k in ("accepted", "duplicate", "invalid")},
                  "results": results}, status)


async def post_dvcqg(request: web.Request, agency: str) -> web.Response:
    """`POST /v1/dvcqg/dossiers`: DVCQG dossier records (array or lines); one result per record."""
    gw = request.app[GATEWAY]
    raw = await _read_body(request, gw.settings.gateway_max_body_bytes)
    try:
        items = list(split_body(raw, request.content_type in JSON_LINES_TYPES))
    except InvalidEvent as exc:
        return _problem(400, exc.reason.replace("event", "record"))
    results: list[dict[str, Any]] = []
    to_send: list[Event] = []
    owners: list[int] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if isinstance(item, InvalidEvent):
            results.append({"index": index, "status": "invalid", "code": item.code,
                            "reason": item.reason.replace("event:", "record:")})
            continue
        try:
            events = translate(item, agency)
            if gw.catalog is not None:
                for event in events:
                    check_against_catalog(event, gw.catalog)
        except (InvalidRecord, InvalidEvent) as exc:
            results.append({"index": index, "status": "invalid", "code": exc.code, "reason": exc.reason})
            continue
        fresh = [e for e in events if e.event_id not in seen and e.event_id not in gw.acked]
        seen.update(e.event_id for e in fresh)
        results.append({"index": index, "dossier": str(item.get("MaHoSo", "")).strip(),
                        "status": "accepted" if fresh or not events else "duplicate",
                        "events": len(events), "new_events": len(fresh)})
        to_send.extend(fresh)
        owners.extend([index] * len(fresh))
    try:
        outcomes = await _deliver(gw, to_send, agency)
    except TimeoutError:
        return _problem(504, "Kafka and the spool did not confirm in time; send again (duplicates are "
                             "dropped by event_id)")
    failed = {owner for owner, outcome in zip(owners, outcomes, strict=True)
              if isinstance(outcome, BaseException)}
    for event, outcome in zip(to_send, outcomes, strict=True):
        if not isinstance(outcome, BaseException):
            gw.remember(event.event_id)
    for index in failed:
        results[index] = {**results[index], "status": "error", "reason": "not stored; send again"}
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    for outcome_name, count in counts.items():
        gw.metrics.events.labels(ROUTE_DVCQG, agency, outcome_name).inc(count)
    return _json({**{k: counts.get(k, 0) for k in ("accepted", "duplicate", "invalid")},
                  "results": results}, 500 if failed else 200)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the producer exists and the gateway is not overloaded."""
    gw = request.app[GATEWAY]
    if gw.producer is None:
        return _problem(503, "starting", gw.settings.gateway_retry_after)
    why = gw.overloaded()
    if why is not None:
        return _problem(503, f"overloaded: {why}", gw.settings.gateway_retry_after)
    return _json({"status": "ready", "kafka": gw.producer.connected, "spool_depth": gw.producer.spool_depth})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[GATEWAY].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return _json(openapi_document(request.app[GATEWAY].settings))


def openapi_document(settings: GatewaySettings) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the gateway (served at /openapi.json)."""
    schema = json_schema()
    schema.pop("$schema", None)
    result = {"type": "object", "properties": {
        "accepted": {"type": "integer"}, "duplicate": {"type": "integer"}, "invalid": {"type": "integer"},
        "results": {"type": "array", "items": {"type": "object", "properties": {
            "index": {"type": "integer"}, "event_id": {"type": "string"},
            "status": {"enum": ["accepted", "duplicate", "invalid", "error"]},
            "code": {"type": "string"}, "reason": {"type": "string"}}}}}}
    error = {"type": "object", "properties": {"error": {"type": "string"}}}
    common = {
        "400": {"description": "The body is neither a JSON array nor JSON lines",
                "content": {"application/json": {"schema": error}}},
        "401": {"description": "Missing or unknown API key"},
        "403": {"description": "An event of another agency than the key's: nothing accepted"},
        "413": {"description": f"Body over {settings.gateway_max_body_bytes} bytes"},
        "429": {"description": "Overloaded (spool or broker behind): retry after Retry-After seconds"},
        "503": {"description": "Starting: retry after Retry-After seconds"},
        "504": {"description": "Kafka and the spool did not confirm in time: send again"},
    }
    events = {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}
    body_types = {"application/json": {"schema": events},
                  "application/x-ndjson": {"schema": {"type": "string"}}}
    results = {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ioc-monitor gateway", "version": "1",
                 "description": "Dossier events and DVCQG dossier records from agency systems "
                                "(docs/gateway.md)"},
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
                                "bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Event": schema, "Result": result},
        },
        "security": [{"apiKey": []}, {"bearer": []}],
        "paths": {
            ROUTE_EVENTS: {"post": {
                "summary": "Post dossier-event/1 events (JSON array or JSON lines)",
                "requestBody": {"required": True, "content": body_types},
                "responses": {"200": {"description": "One result per event; accepted ones are in Kafka "
                                                     "(acks=all) or the durable spool",
                                      "content": results},
                              **common}}},
            ROUTE_DVCQG: {"post": {
                "summary": "Post DVCQG dossier records (our documented layout, docs/gateway.md)",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "application/x-ndjson": {"schema": {"type": "string"}}}},
                "responses": {"200": {"description": "One result per record",
                                      "content": results},
                              **common}}},
            "/healthz": {"get": {"summary": "Liveness", "security": [],
                                 "responses": {"200": {"description": "up"}}}},
            "/readyz": {"get": {"summary": "Readiness", "security": [],
                                "responses": {"200": {"description": "ready"},
                                              "503": {"description": "not ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
                                 "responses": {"200": {"description": "text exposition format"}}}},
        },
    }


def create_app(gateway: Gateway) -> web.Application:
    """The aiohttp application; the producer may be attached later (503 until then)."""
    # the body limit is enforced by _read_body (413 with our message); aiohttp's own limit is set above it
    app = web.Application(client_max_size=gateway.settings.gateway_max_body_bytes + 1)
    app[GATEWAY] = gateway
    app.router.add_post(ROUTE_EVENTS, _authenticated(ROUTE_EVENTS, post_events))
    app.router.add_post(ROUTE_DVCQG, _authenticated(ROUTE_DVCQG, post_dvcqg))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    return app
