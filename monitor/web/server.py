"""The network front: one websockets server routing ingest and /live upgrades, plain GETs, and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from monitor.access.exposure import exposure_refusal
from monitor.access.ingest_auth import IngestAuth, describe, refusal_delay
from monitor.config.settings import Config, ConfigError
from monitor.service import Service
from monitor.sinks.mqtt import MqttAlertSink
from monitor.store.database import Store
from monitor.web.http_api import HttpApi, duplicated_header, respond
from monitor.web.ingest import INGEST_PATHS, ingest_handler, make_protocol
from monitor.web.ingest_guard import AddressCounter, guarded_connection_class, tls_context
from monitor.web.live_feed import serve_live
from streams.protocols import AUDIOFORK_SUBPROTOCOLS, RAW_SUBPROTOCOL

log = logging.getLogger("callwarden.server")
WEBSOCKET_PATHS = (*INGEST_PATHS, "/live")
CANCELLED_CLOSE_TIMEOUT = 2.0  # a call cancelled at shutdown: seconds its closing handshake may take
GOING_AWAY = 1001
LISTEN_BACKLOG = 1024  # asyncio's default (100) overflows under a burst of connects: SYNs wait 1 s to be retried


class Front:
    """Routes each connection: WebSocket upgrades to ingest or /live, anything else to the HTTP API."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.http = HttpApi(service)
        self.auth = IngestAuth(service.config)
        self.ingest = ingest_handler(service, self.auth)

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if (twice := duplicated_header(request.headers)) is not None:
            what = f"{path} upgrade" if path in INGEST_PATHS else path[:64]
            log.warning("refused %s from %s: header %s sent twice", what, connection.remote_address, twice)
            if path in INGEST_PATHS:  # the same answer, after the same delay, as any other credential failure
                await asyncio.sleep(refusal_delay(time.monotonic(), time.monotonic()))
                return respond(401, "Unauthorized\n")
            return respond(400, f"header {twice} must be sent once\n")
        if path not in WEBSOCKET_PATHS:
            return await self.http.handle(request)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return respond(426, f"{path} is a WebSocket endpoint\n", extra={"Upgrade": "websocket"})
        if path in INGEST_PATHS:
            arrived = time.monotonic()
            refusal = await self.auth.check_upgrade(path, request)
            if refusal is not None:
                log.warning("refused %s upgrade from %s: %s", path, connection.remote_address, refusal)
                await asyncio.sleep(refusal_delay(arrived, time.monotonic()))
                return respond(401, "Unauthorized\n")  # the same answer whatever failed
        return None

    def select_subprotocol(self, connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        path = urlsplit(connection.request.path).path if connection.request else ""
        wanted = {"/ingest/audiofork": AUDIOFORK_SUBPROTOCOLS, "/ingest/raw": (RAW_SUBPROTOCOL,)}.get(path, ())
        return next((p for p in offered if p in wanted), None)

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path = urlsplit(ws.request.path).path
        if path == "/live":
            await serve_live(ws, self.service)
            return
        protocol = make_protocol(path, ws.request, ws.subprotocol, self.service)
        try:
            await self.ingest(ws, protocol)
        except asyncio.CancelledError:  # the shutdown grace is over: tell the peer why (1001), briefly
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CANCELLED_CLOSE_TIMEOUT):
                    await ws.close(GOING_AWAY, "service shutting down")
            raise


async def run_server(config: Config, stop: asyncio.Event, started: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set, then stop accepting, finish every call (scored and stored) and flush alerts.

    Refuses (ConfigError) to listen beyond loopback while anything is open without credentials, unless `demo`."""
    refusal = exposure_refusal(config)
    if refusal is not None:
        raise ConfigError(refusal)
    async with Service(config) as service:
        front = Front(service)
        addresses = AddressCounter(config.ingest.max_connections_per_address)
        async with serve(
            front.handler,
            config.host,
            config.port,
            process_request=front.process_request,
            select_subprotocol=front.select_subprotocol,
            max_size=config.max_frame_bytes,
            compression=None,  # no permessage-deflate: no decompression bombs (docs/security.md)
            open_timeout=config.ingest.open_timeout,
            ssl=tls_context(config.tls),
            create_connection=guarded_connection_class(addresses),
            backlog=LISTEN_BACKLOG,
        ) as server:
            _log_listening(server, front)
            freeze_startup_objects()
            if started is not None:
                started.set()
            await stop.wait()
            await _shutdown(server, service)


async def _shutdown(server: Server, service: Service) -> None:
    grace = service.config.drain_grace_seconds
    service.start_draining()
    if service.sessions and grace > 0:
        # Still listening: health checks read 503 and a new call is answered 1013 (try again: another replica)
        # rather than a refused connection. A second signal exits at once (install_signal_handlers).
        log.info("draining: not ready, refusing new calls; %d call(s) may run %.0f s more",
                 len(service.sessions), grace)  # fmt: skip
        if await service.drain(grace):
            log.info("drained: every call ended by itself")
        else:
            log.warning("drain deadline (%.0f s): %d call(s) still open end now, incomplete (no score)",
                        grace, len(service.sessions))  # fmt: skip
    log.info("stopping: no new connections; finishing %d active call(s)", len(service.sessions))
    server.close(close_connections=False)
    await service.end_all_calls("shutdown")
    grace = service.config.shutdown_grace
    if not await service.wait_calls_finished(grace):
        unfinished = len(service.sessions)
        log.warning("%d call(s) did not finish in %g s; cancelling them (they stay incomplete)", unfinished, grace)
        for task in list(server.handler_tasks):
            task.cancel()
        if server.handler_tasks:
            await asyncio.wait(server.handler_tasks, timeout=5.0)
        cut = await service.store.run(Store.mark_incomplete_on_startup, reason="shutdown")
        log.warning("cancelled call(s) stored incomplete (no score): %s", ", ".join(cut) or "none")
    # server.close() is idempotent: the first call above fixed close_connections=False, so connections still open
    # (dashboards on /live, ingest sockets) are closed here, else wait_closed() waits for them forever.
    closing = [conn.close(1001, "service shutting down") for conn in server.connections]
    await asyncio.gather(*closing, return_exceptions=True)
    await server.wait_closed()


def freeze_startup_objects() -> None:
    """Put everything built at start-up (modules, rule packs, matchers, settings) out of the garbage collector's
    reach. A full collection walks every tracked object: with the ~50,000 of start-up among them, one during a
    connection flood held the event loop ~150 ms on a loaded box; frozen, it walks only what came since."""
    gc.collect()
    gc.freeze()


def _log_listening(server: Server, front: Front) -> None:
    service = front.service
    scheme = "https" if service.config.tls.enabled else "http"
    for sock in server.sockets:
        host, port = sock.getsockname()[:2]
        paths = "ingest /ingest/{twilio,audiohook,audiofork,raw}, live /live"
        log.info("listening on %s://%s:%d (%s)", scheme, host, port, paths)
    log.info("ingest authentication: %s", describe(front.auth.configured()))
    for warning in front.auth.startup_warnings():
        log.warning("SECURITY: %s", warning)
    if not service.config.tls.enabled:
        log.warning("SECURITY: no TLS (tls.cert/tls.key unset): audio and credentials travel in clear text")
    sink = f"MQTT {service.sink.settings.redacted_url()}" if isinstance(service.sink, MqttAlertSink) else "the log"
    log.info("alerts go to %s; data in %s", sink, service.config.data_dir)


SECOND_SIGNAL_EXIT_CODE = 130


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop` (graceful shutdown); a second one while stopping exits at once (the store is
    crash-safe: calls still active are marked incomplete at the next start)."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            stop.set()
            return
        log.warning("second %s while stopping: exiting now without finishing calls", sig.name)
        logging.shutdown()
        os._exit(SECOND_SIGNAL_EXIT_CODE)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
