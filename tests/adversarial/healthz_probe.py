"""GET /healthz every `interval` s from a process of its own and print each answer's milliseconds, one per line.

The hostile clients' own event loop (hundreds of handshakes at once) would delay a probe running on it: this
process measures the service alone. Run as `python -m tests.adversarial.healthz_probe PORT INTERVAL SECONDS`.
"""

from __future__ import annotations

import socket
import sys
import time


def probe(port: int) -> tuple[int, float]:
    """One GET /healthz on a new connection: (HTTP status, seconds from connect to the last byte)."""
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return int(answer.split()[1]), time.monotonic() - began


def main(port: int, interval: float, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status, took = probe(port)
        print(f"{time.time():.3f} {status} {took * 1000:.2f}", flush=True)
        time.sleep(interval)


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]))
