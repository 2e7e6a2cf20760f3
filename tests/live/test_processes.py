"""Two real `taskly serve` processes on one database: a change made through one reaches a
stream served by the other (each process holds its own single LISTEN connection), a logout
through one closes the other's stream, and a stream reconnecting to a restarted process
catches up on what it missed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from tests.faults.conftest import db, dsn, launcher, pg, sink  # noqa: F401 - the fixtures
from tests.faults.services import Launcher, free_port
from tests.helpers import PASSWORD, csrf_of
from tests.live.sse import EventReader

SECRET = "live-processes-" + "k" * 40  # both processes sign and read the same cookies
CARD = re.compile(r'<template data-live-card="(\d+)"[^>]*>(.*?)</template>', re.S)


async def form(session: aiohttp.ClientSession, base: str, path: str, data: dict[str, str]) -> str:
    async with session.get(base + path) as page:
        token = csrf_of(await page.text())
    async with session.post(base + path, data={"csrf_token": token, **data}) as response:
        assert response.status < 400, await response.text()
        return await response.text()


async def signed_up(base: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    details = {"first_name": "Ada", "last_name": "Lovelace", "time_zone": "Europe/London"}
    await form(
        session, base, "/signup", {"email": "ada@example.com", "password": PASSWORD, **details}
    )
    await form(session, base, "/login", {"email": "ada@example.com", "password": PASSWORD})
    return session


async def logged_in(base: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    await form(session, base, "/login", {"email": "ada@example.com", "password": PASSWORD})
    return session


@asynccontextmanager
async def stream(
    session: aiohttp.ClientSession, url: str, last_event_id: str | None = None
) -> AsyncIterator[EventReader]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=None)) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        yield EventReader(r.content.readany)


async def add_task(session: aiohttp.ClientSession, base: str, title: str) -> None:
    async with session.get(base + "/") as page:
        token = csrf_of(await page.text())
    async with session.post(base + "/tasks", data={"csrf_token": token, "title": title}) as r:
        assert r.status < 400


async def until_the_end(events: EventReader) -> None:
    while True:
        await events.next(wait=60)


def titles(data: str) -> set[str]:
    return {
        m
        for _, body in CARD.findall(data)
        for m in re.findall(r'data-action="edit">([^<]*)<', body)
    }


@pytest.fixture
async def two(launcher: Launcher):  # noqa: F811 - the fixture imported above
    first = launcher.serve(SECRET_KEY=SECRET)
    second = launcher.serve(SECRET_KEY=SECRET)
    await launcher.ready(first, second)
    return first, second


async def test_a_change_through_one_process_reaches_a_stream_on_the_other(two, db):  # noqa: F811
    first, second = two
    laptop = await signed_up(first.url)
    phone = await logged_in(second.url)
    try:
        since = await db.fetchval("SELECT change_seq FROM users")
        async with stream(phone, f"{second.url}/live?since={since}") as events:
            await add_task(laptop, first.url, "Made on the laptop")
            event = await events.next()
            assert event.type == "change" and event.id == str(since + 1)
            assert titles(event.data) == {"Made on the laptop"}
            # Logging out on the laptop's process ends only the laptop's session...
            async with laptop.get(first.url + "/") as page:
                token = csrf_of(await page.text())
            await laptop.post(first.url + "/logout", data={"csrf_token": token})
            await add_task(phone, second.url, "Still here")
            assert titles((await events.next()).data) == {"Still here"}
        # ... and "log out other devices" from the laptop ends the phone's, on the other process.
        laptop2 = await logged_in(first.url)
        since = await db.fetchval("SELECT change_seq FROM users")
        async with stream(phone, f"{second.url}/live?since={since}") as events:
            async with laptop2.get(first.url + "/account/devices") as page:
                token = csrf_of(await page.text())
            await laptop2.post(
                first.url + "/account/devices/logout-others", data={"csrf_token": token}
            )
            assert (await events.next()).type == "logout"
            with pytest.raises(EOFError):
                await events.next()
        # The phone's process had its session cached: it heard the revocation, not just the
        # stream. (The cookie still names the session; the server no longer knows it.)
        async with phone.get(second.url + "/", allow_redirects=False) as page:
            assert page.status == 302 and "/login" in page.headers["Location"]
        await laptop2.close()
    finally:
        await laptop.close()
        await phone.close()


async def test_reconnecting_to_a_restarted_process_catches_up(two, launcher, db):  # noqa: F811
    first, second = two
    laptop = await signed_up(first.url)
    phone = await logged_in(second.url)
    try:
        since = await db.fetchval("SELECT change_seq FROM users")
        async with stream(phone, f"{second.url}/live?since={since}") as events:
            await add_task(laptop, first.url, "Before the restart")
            last = (await events.next()).id
            second.stop()  # the phone's server goes away (a deploy)
            with pytest.raises((EOFError, aiohttp.ClientError)):
                await events.next()
        await add_task(laptop, first.url, "While it was down")
        await add_task(laptop, first.url, "Also while down")
        third = launcher.serve(SECRET_KEY=SECRET)
        await launcher.ready(third)
        url = f"{third.url}/live?since={since}"  # the page's old number; Last-Event-ID wins
        async with stream(phone, url, last_event_id=last) as events:
            event = await events.next()
        assert titles(event.data) == {"While it was down", "Also while down"}
        assert event.id == str(int(last) + 2)
    finally:
        await laptop.close()
        await phone.close()


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_stop_ends_open_streams_at_once_instead_of_waiting_for_them(
    launcher: Launcher,  # noqa: F811
    db,  # noqa: F811
    workers: str,
):
    # A graceful stop waits up to GRACEFUL_TIMEOUT for open requests. Streams never finish by
    # themselves: unless the stop ends them, it would wait the whole ten minutes.
    port = free_port()
    server = launcher._start(
        ["serve", "--port", str(port), "--workers", workers],
        f"http://127.0.0.1:{port}",
        {"SECRET_KEY": SECRET, "GRACEFUL_TIMEOUT": "600"},
    )
    await launcher.ready(server)
    session = await signed_up(server.url)
    try:
        async with stream(session, f"{server.url}/live?since=0") as events:
            server.popen.terminate()
            with pytest.raises((EOFError, aiohttp.ClientError)):
                await until_the_end(events)
        assert await asyncio.to_thread(server.popen.wait, 60) == 0
    finally:
        await session.close()
