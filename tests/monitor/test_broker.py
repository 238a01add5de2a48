"""The real Mosquitto broker fixture carries a QoS 1 message from a publisher to a subscriber."""

from __future__ import annotations

import asyncio

import aiomqtt

from tests.conftest import MosquittoBroker


async def test_publish_and_receive_through_real_mosquitto(mosquitto: MosquittoBroker) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="cw-test-sub") as sub:
        await sub.subscribe("callwarden/test/#", qos=1)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="cw-test-pub") as pub:
            await pub.publish("callwarden/test/hello", b'{"ok": true}', qos=1)
        async with asyncio.timeout(5):
            message = await anext(aiomqtt_messages(sub))
    assert str(message.topic) == "callwarden/test/hello"
    assert message.payload == b'{"ok": true}'
    assert message.qos == 1


async def aiomqtt_messages(client: aiomqtt.Client):  # type: ignore[no-untyped-def]
    async for message in client.messages:
        yield message
