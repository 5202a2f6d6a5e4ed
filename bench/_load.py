"""A small HTTP/1.1 load generator on asyncio with keep-alive connections: the benchmarks need no
tool beyond Python.

It shares the machine with the server it measures, and it spends the same on every request,
whichever view answers: a ratio of two views measured with it holds. Its own cost is a small
part of a Django request's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Builds the whole request (request line, headers, body) for the n-th request of a run.
RequestMaker = Callable[[int], bytes]


def post(path: str, body: bytes, *, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join([*lines, f"Content-Length: {len(body)}", "", ""])).encode() + body


@dataclass
class Run:
    answered: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> int:
        """Send one request and read its whole answer; the HTTP status."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(*self.address)
        self.writer.write(request)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed by the server")
        length, closing = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                closing = True
        await self.reader.readexactly(length)
        if closing:
            self.close()
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _send(connection: _Connection, request: bytes, run: Run) -> None:
    try:
        status = await connection.exchange(request)
    except (OSError, asyncio.IncompleteReadError, ValueError) as error:
        connection.close()
        run.errors.append(type(error).__name__)
        return
    if status == 200:
        run.answered += 1
    else:
        run.errors.append(f"HTTP {status}")


async def _as_fast_as_possible(address: tuple[str, int], make: RequestMaker, connections: int, seconds: float) -> Run:
    run, counter = Run(), iter(range(10**9))
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        connection = _Connection(*address)
        while time.perf_counter() < deadline:
            await _send(connection, make(next(counter)), run)
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    run.seconds = time.perf_counter() - started
    return run


async def _at_a_steady_rate(
    address: tuple[str, int], make: RequestMaker, per_second: float, seconds: float, new_connections: bool
) -> Run:
    """Requests leave on a fixed schedule whether or not earlier ones were answered, and each latency
    counts from its scheduled time: a slow answer cannot hide the requests queued behind it."""
    run, idle = Run(), []
    started = time.perf_counter()

    async def one(index: int, scheduled: float) -> None:
        connection = idle.pop() if idle and not new_connections else _Connection(*address)
        await _send(connection, make(index), run)
        run.latencies.append(time.perf_counter() - scheduled)
        if new_connections:
            connection.close()
        else:
            idle.append(connection)

    pending = []
    for index in range(int(per_second * seconds)):
        scheduled = started + index / per_second
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        pending.append(asyncio.create_task(one(index, scheduled)))
    await asyncio.gather(*pending)
    run.seconds = time.perf_counter() - started
    for connection in idle:
        connection.close()
    return run


def as_fast_as_possible(address: tuple[str, int], make: RequestMaker, *, connections: int, seconds: float) -> Run:
    """``connections`` clients, each sending its next request as soon as the last is answered."""
    return asyncio.run(_as_fast_as_possible(address, make, connections, seconds))


def at_a_steady_rate(
    address: tuple[str, int], make: RequestMaker, *, per_second: float, seconds: float, new_connections: bool = False
) -> Run:
    """``new_connections``: each request on a connection of its own, as SMS.online sends a webhook; else the
    connections are kept and reused, and one opened for a burst may be closed by the server after its
    keep-alive time while idle here (it then counts an error when used again)."""
    return asyncio.run(_at_a_steady_rate(address, make, per_second, seconds, new_connections))
