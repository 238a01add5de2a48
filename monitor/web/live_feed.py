"""The /live WebSocket: sends the hub's snapshot and events to one dashboard, takes its acknowledgements, its alert
workflow actions (note, assign, resolve, reopen, escalate) and an admin's erasures. State changes happen only here:
the upgrade must carry an allowed Origin and valid credentials, and the acting user is always the signed-in one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from monitor.access.hashing import refusal_delay
from monitor.access.users import Principal
from monitor.store.database import Store
from monitor.store.records import ALERT_ACTIONS, StoreError, alert_action_json

if TYPE_CHECKING:
    from monitor.service import Service

log = logging.getLogger("callwarden.live")


async def serve_live(ws: ServerConnection, service: Service) -> None:
    """Stream the live feed to `ws` until it closes; acknowledge findings it asks to."""
    assert ws.request is not None
    headers = ws.request.headers
    if not service.access.origin_allowed(headers):
        log.warning("refused /live from %s: Origin %r is not this host", ws.remote_address, headers.get("Origin"))
        await ws.close(1008, "cross-origin /live refused")
        return
    arrived = time.monotonic()
    who = await service.access.authenticate(headers)
    if who is None:
        log.warning("refused /live from %s: no valid credentials", ws.remote_address)
        await asyncio.sleep(refusal_delay(arrived, time.monotonic()))
        await ws.close(1008, "credentials required")
        return
    subscriber = service.live.subscribe()
    try:
        async with asyncio.TaskGroup() as group:
            sender = group.create_task(_send(ws, subscriber.queue, lambda: subscriber.overflowed))
            await _receive(ws, service, who)
            sender.cancel()
    except* ConnectionClosed:
        pass
    finally:
        service.live.unsubscribe(subscriber)


async def _send(ws: ServerConnection, queue: asyncio.Queue[str], overflowed: object) -> None:
    while True:
        text = await queue.get()
        await ws.send(text)
        if callable(overflowed) and overflowed():
            await ws.close(1008, "live feed consumer too slow; reconnect to get a fresh snapshot")
            return


async def _receive(ws: ServerConnection, service: Service, who: Principal) -> None:
    async for message in ws:
        if not isinstance(message, str) or len(message) > 4096:
            await ws.close(1003, "live feed accepts small JSON text messages only")
            return
        try:
            request = json.loads(message)
        except ValueError:
            await ws.close(1007, "live feed message is not JSON")
            return
        if isinstance(request, dict) and request.get("type") == "ack":
            await _acknowledge(ws, service, request, who)
        elif isinstance(request, dict) and request.get("type") == "erase":
            await _erase(ws, service, request, who)
        elif isinstance(request, dict) and request.get("type") == "alert_action":
            await _alert_action(ws, service, request, who)


async def _acknowledge(
    ws: ServerConnection, service: Service, request: dict[str, object], principal: Principal
) -> None:
    finding_id = str(request.get("finding_id", ""))[:64]
    who = principal.name  # the signed-in user ("anonymous" in open mode); a typed "by" is ignored
    try:
        ack = await service.store.acknowledge(finding_id, who, wall_time=time.time())
    except StoreError as exc:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "error", "finding_id": finding_id, "error": str(exc)[:200]}))
        return
    call_id = service.live.call_of(finding_id)
    service.live.publish(
        {"type": "acknowledged", "call_id": call_id, "finding_id": finding_id, "by": ack.who, "at": ack.wall_time}
    )
    log.info("finding %s acknowledged by %s", finding_id, ack.who)
    with contextlib.suppress(Exception):
        await service.store.run(
            Store.audit,
            who, "ack", source="live", role=principal.role, call_id=call_id, detail={"finding_id": finding_id}
        )


async def _alert_action(
    ws: ServerConnection, service: Service, request: dict[str, object], principal: Principal
) -> None:
    """{"type": "alert_action", "action": note|assign|resolve|reopen|escalate, "finding_id", "target", "reason",
    "note"} → stored and audited, then broadcast to every dashboard as `alert_action`; or an error to this socket."""
    finding_id = str(request.get("finding_id", ""))[:64]
    action = str(request.get("action", ""))[:16]
    try:
        if action not in ALERT_ACTIONS:
            raise StoreError(f"unknown alert action {action!r}; use one of: {', '.join(ALERT_ACTIONS)}")
        done = await service.store.alert_action(
            finding_id,
            action,
            principal.name,
            role=principal.role,
            source="live",
            target=str(request.get("target", "")),
            reason=str(request.get("reason", "")),
            note=str(request.get("note", "")),
            wall_time=time.time(),
        )
    except StoreError as exc:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "error", "finding_id": finding_id, "action": action,
                                      "error": str(exc)[:200]}))
        return
    service.live.publish({"type": "alert_action", **alert_action_json(done)})
    log.info("alert %s: %s by %s", finding_id, done.action, done.actor)


async def _erase(ws: ServerConnection, service: Service, request: dict[str, object], principal: Principal) -> None:
    """An admin erases one ended call: {"type": "erase", "call_id": …} → {"type": "erased", …} or an error."""
    call_id = str(request.get("call_id", ""))[:256]
    reply: dict[str, object]
    if not principal.is_admin:
        reply = {"type": "error", "call_id": call_id, "error": "erasure needs the admin role"}
    else:
        try:
            rows = await service.store.run(
                Store.erase_call, call_id, actor=principal.name, source="live", role=principal.role
            )
            reply = {"type": "erased", "call_id": call_id, "rows": rows}
        except StoreError as exc:
            reply = {"type": "error", "call_id": call_id, "error": str(exc)[:200]}
    with contextlib.suppress(ConnectionClosed):
        await ws.send(json.dumps(reply))
