"""Start-up behind `ioc gateway`: listen at once (503 until ready), connect the producer, serve, stop.

Listening before the producer exists lets a load balancer see the process (`/healthz`) and lets clients
get a clear 503 with Retry-After instead of a refused connection while the broker is reached. SIGHUP
re-reads the API keys; SIGTERM/SIGINT stop accepting, then close the producer, which leaves anything
Kafka has not taken in the spool for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from dossiers.catalog import Catalog
from producers.gateway.app import Gateway, create_app
from producers.gateway.keys import KeyStore
from producers.gateway.settings import GatewaySettings
from producers.sdk import EventProducer

log = logging.getLogger(__name__)


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """An HTTPS server context from a PEM chain and key, or None for plain HTTP."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValueError("HTTPS needs both IOC_GATEWAY_TLS_CERT and IOC_GATEWAY_TLS_KEY")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def make_producer(settings: GatewaySettings, catalog: Catalog | None,
                  registry: CollectorRegistry) -> EventProducer:
    """The SDK producer the gateway sends through: no identity of its own (each record gets its key's)."""
    return EventProducer(
        settings.kafka_bootstrap, settings.events_topic, spool=settings.gateway_spool, catalog=catalog,
        registry=registry, client=settings.gateway_client, client_id="ioc-gateway",
        **settings.kafka_python_kwargs(),
    )


async def serve(settings: GatewaySettings, catalog: Catalog | None,
                stop: asyncio.Event | None = None) -> None:
    """Run the gateway until `stop` is set (or SIGTERM/SIGINT)."""
    registry = CollectorRegistry()
    keys = KeyStore(settings.gateway_keys)
    gateway = Gateway(settings, keys, catalog, registry)
    context = tls_context(settings.gateway_tls_cert, settings.gateway_tls_key)
    runner = web.AppRunner(create_app(gateway), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.gateway_host, settings.gateway_port, ssl_context=context,
                       backlog=1024)
    await site.start()
    scheme = "https" if context else "http"
    log.info("gateway listening on %s://%s:%d (starting: 503 until Kafka or the spool is ready)",
             scheme, settings.gateway_host, settings.gateway_port)
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, keys.reload)
    try:
        gateway.producer = await loop.run_in_executor(None, make_producer, settings, catalog, registry)
        log.info("gateway ready (%s)", "Kafka connected" if gateway.producer.connected
                 else "Kafka unreachable: events go to the spool until it answers")
        print(f"ioc gateway ready on {scheme}://{settings.gateway_host}:{settings.gateway_port}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        producer, gateway.producer = gateway.producer, None
        if producer is not None:
            await loop.run_in_executor(None, producer.close, 10.0)
