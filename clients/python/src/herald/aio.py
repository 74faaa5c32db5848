"""asyncio variants of Producer and Consumer.

They wrap the thread-based clients (whose gRPC streams run on their own
threads), so an event loop never blocks on the network: sends return
awaitables and the consumer is an async iterator.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, AsyncIterator, List, Optional

from .consumer import Consumer
from .errors import ResourceExhaustedError
from .producer import Producer
from .types import Bytes, ConsumedRecord, Headers, RecordMetadata


class AsyncProducer:
    """``await producer.send(...)`` resolves when the broker acknowledges.

    >>> async with AsyncProducer("localhost:7420") as producer:
    ...     meta = await producer.send("orders", b"hello", key="k")
    """

    def __init__(self, target: str, **options: Any) -> None:
        self._producer = Producer(target, **options)

    def send_nowait(
        self,
        topic: str,
        value: Optional[Bytes] = None,
        **kwargs: Any,
    ) -> "asyncio.Future[RecordMetadata]":
        """Queues without waiting for the acknowledgement (pipelining); raises
        ResourceExhaustedError at once if the buffer is full."""
        future = self._producer._send(  # noqa: SLF001 - same package
            topic,
            value,
            kwargs.get("key"),
            kwargs.get("headers"),
            kwargs.get("partition"),
            kwargs.get("timestamp_ms", 0),
            0.0,
        )
        return asyncio.wrap_future(future)

    async def send(
        self,
        topic: str,
        value: Optional[Bytes] = None,
        *,
        key: Optional[Bytes] = None,
        headers: Optional[Headers] = None,
        partition: Optional[int] = None,
        timestamp_ms: int = 0,
    ) -> RecordMetadata:
        """Sends one record and waits for its acknowledgement. When the buffer
        is full, waits for room on a worker thread (never on the loop)."""
        kwargs = dict(key=key, headers=headers, partition=partition, timestamp_ms=timestamp_ms)
        try:
            return await self.send_nowait(topic, value, **kwargs)
        except ResourceExhaustedError:
            loop = asyncio.get_running_loop()
            call = functools.partial(self._producer.send, topic, value, **kwargs)
            future = await loop.run_in_executor(None, call)
            return await asyncio.wrap_future(future)

    async def flush(self, timeout_s: Optional[float] = None) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._producer.flush, timeout_s)

    async def close(self, timeout_s: float = 30.0) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._producer.close, timeout_s)

    async def __aenter__(self) -> "AsyncProducer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncConsumer:
    """Async iterator over records: ``async for record in consumer``.

    Subscription calls (``assign``, ``subscribe``, ``seek``, ``commit``) are
    those of :class:`Consumer`, run on a worker thread.
    """

    def __init__(self, target: str, **options: Any) -> None:
        self.sync = Consumer(target, **options)

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def assign(self, *args: Any, **kwargs: Any) -> None:
        await self._run(self.sync.assign, *args, **kwargs)

    async def subscribe(self, *args: Any, **kwargs: Any) -> None:
        await self._run(self.sync.subscribe, *args, **kwargs)

    async def seek(self, *args: Any, **kwargs: Any) -> None:
        await self._run(self.sync.seek, *args, **kwargs)

    async def commit(self, *args: Any, **kwargs: Any) -> None:
        await self._run(self.sync.commit, *args, **kwargs)

    async def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> List[ConsumedRecord]:
        return await self._run(self.sync.poll, timeout_s, max_records)  # type: ignore[no-any-return]

    async def __aiter__(self) -> AsyncIterator[ConsumedRecord]:
        while True:
            try:
                records = await self.poll(timeout_s=0.5)
            except Exception:
                if self.sync._closed:  # noqa: SLF001 - ended by close()
                    return
                raise
            for record in records:
                yield record

    async def close(self) -> None:
        await self._run(self.sync.close)

    async def __aenter__(self) -> "AsyncConsumer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
