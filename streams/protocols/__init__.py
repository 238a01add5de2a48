"""Sans-I/O cores of the live ingest protocols (Twilio, AudioHook, audio_fork, raw) and upgrade signatures."""

from streams.codecs import AudioFormat, Encoding
from streams.protocols.audiofork import SUBPROTOCOLS as AUDIOFORK_SUBPROTOCOLS
from streams.protocols.audiofork import AudioForkProtocol
from streams.protocols.audiohook import AudioHookProtocol
from streams.protocols.base import (
    AudioChunk,
    CallClosed,
    CallOpened,
    Close,
    CutUtterances,
    DrainCall,
    IngestProtocol,
    LegSpec,
    Limits,
    Notice,
    Output,
    SendText,
)
from streams.protocols.raw import SUBPROTOCOL as RAW_SUBPROTOCOL
from streams.protocols.raw import RawProtocol
from streams.protocols.twilio import TwilioProtocol

__all__ = [
    "AUDIOFORK_SUBPROTOCOLS",
    "RAW_SUBPROTOCOL",
    "AudioChunk",
    "AudioForkProtocol",
    "AudioFormat",
    "AudioHookProtocol",
    "CallClosed",
    "CallOpened",
    "Close",
    "CutUtterances",
    "DrainCall",
    "Encoding",
    "IngestProtocol",
    "LegSpec",
    "Limits",
    "Notice",
    "Output",
    "RawProtocol",
    "SendText",
    "TwilioProtocol",
]
