"""Channel construction shared by Admin, Producer and Consumer."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import grpc

# Keepalive pings every 30 s detect dead peers on long-lived streams; the
# broker permits pings every >= 10 s, so 30 s stays well clear of its
# too_many_pings enforcement.
KEEPALIVE_TIME_MS = 30_000
KEEPALIVE_TIMEOUT_MS = 10_000
DEFAULT_RPC_TIMEOUT_S = 10.0


def make_channel(
    target: str,
    credentials: Optional[grpc.ChannelCredentials] = None,
    options: Sequence[Tuple[str, Any]] = (),
) -> grpc.Channel:
    """Creates a channel to ``target`` (``host:port``) with Herald's defaults."""
    merged: List[Tuple[str, Any]] = [
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        # Reconnect promptly after a broker restart; the clients add their
        # own backoff on top.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2_000),
    ]
    merged.extend(options)
    if credentials is not None:
        return grpc.secure_channel(target, credentials, options=merged)
    return grpc.insecure_channel(target, options=merged)
