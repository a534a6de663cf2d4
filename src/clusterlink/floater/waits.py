"""The two waits every probe is made of, at the cost of one future and one timer each.

A probe waits for a socket to become readable or writable, or for its replies to arrive,
and never longer than its deadline. ``loop.sock_connect``/``sock_recv`` wrapped in
``asyncio.timeout`` do the same with a task step, a context manager and several callbacks
more per wait; a floater runs hundreds of these waits per plan while every other floater
of the node's cluster probes it, so the lean form is what keeps its CPU per probe low.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any


def _wake(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def ready(opened: socket.socket, *, write: bool, deadline: float) -> None:
    """Until ``opened`` can be written (``write``) or read; TimeoutError at ``deadline``
    (the loop's clock)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    descriptor = opened.fileno()
    if write:
        loop.add_writer(descriptor, _wake, waiter)
    else:
        loop.add_reader(descriptor, _wake, waiter)
    timer = loop.call_at(deadline, _expire, waiter)
    try:
        await waiter
    finally:
        timer.cancel()
        if write:
            loop.remove_writer(descriptor)
        else:
            loop.remove_reader(descriptor)


async def settled(waiter: asyncio.Future[None], deadline: float) -> None:
    """Until ``waiter`` is done or ``deadline`` (the loop's clock) passes, when it is done
    with None: a waiter of one probe's own that whoever answers sets the same way."""
    if waiter.done():
        return
    timer = asyncio.get_running_loop().call_at(deadline, _wake, waiter)
    try:
        await waiter
    finally:
        timer.cancel()
