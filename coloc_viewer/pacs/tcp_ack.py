"""Linux's ``TCP_QUICKACK``, looked up once for the modules that send pending ACKs at once."""

from __future__ import annotations

import socket

TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def ack_now(sock: socket.socket) -> None:
    """Send any pending ACK on ``sock`` now and leave delayed ACKs off until the kernel
    turns them back on (it does, after some reads): callers set it again as they go."""
    if TCP_QUICKACK is not None:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)
