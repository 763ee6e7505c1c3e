"""The HTTP gateway (cổng HTTP) in front of the producer SDK, for agency systems that are not Python.

It sits in `producers/` because it is one more door to `EventProducer` (validate, key, `acks=all`,
spool): adapters never import each other, and the gateway needs nothing but the SDK and the core.
`settings` (IOC_GATEWAY_*), `keys` (hashed API keys per agency, reloaded without restart), `app` (the
aiohttp routes), `service` (start-up, TLS, signals behind `ioc gateway`). docs/gateway.md.
"""
