"""Running Hypercorn's workers so that a graceful stop is not held up by live streams.

Hypercorn stops in two steps: on SIGTERM it stops accepting and waits (up to graceful_timeout)
for open connections to finish, and only then runs the app's shutdown. A live board's event
stream never finishes by itself, so every open board would hold a deploy for the whole
graceful_timeout. Hypercorn lets the server be given its own `shutdown_trigger`, not through
`hypercorn.run.run`, so this module is that function's supervisor (the same spawn, signals and
socket sharing, without the reloader) with a worker whose trigger ends this process's streams
the moment the stop begins. Browsers reconnect to another instance (or this one, restarted) and
catch up from Last-Event-ID.

One more difference: when a worker stops, the others are waited for, not terminated, so each
one's reminder engine can finish the message it is sending (bounded by `shutdown_timeout`).

And a worker freezes what importing the app made (modules, functions, settings) out of the
garbage collector's sight before it serves: a full collection then scans only what serving
made since. With a thousand open streams, a full collection over everything took 100-250 ms on
the 2-core bench machine, in the middle of delivering events (bench/live.py's p99).
"""

from __future__ import annotations

import asyncio
import gc
import signal
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import check_multiprocess_shutdown_event, load_application

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _end_streams() -> None:
    from taskly.asgi import app  # the module Hypercorn loaded the app from, already imported
    from taskly.live.stream import HUB_KEY

    app.extensions[HUB_KEY].close_all()


def worker(
    config: Config, sockets: Sockets | None = None, shutdown_event: EventType | None = None
) -> None:
    """One worker: Hypercorn's server with a trigger that ends the live streams first."""
    app = load_application(config.application_path, config.wsgi_max_body_size)
    gc.collect()
    gc.freeze()

    async def main() -> None:
        stop = asyncio.Event()
        if shutdown_event is None:  # the only process: the signals come here
            loop = asyncio.get_running_loop()
            for number in STOP_SIGNALS:
                loop.add_signal_handler(number, stop.set)

        async def trigger() -> None:
            if shutdown_event is None:
                await stop.wait()
            else:
                await check_multiprocess_shutdown_event(shutdown_event, asyncio.sleep)
            _end_streams()

        await worker_serve(app, config, sockets=sockets, shutdown_trigger=trigger)

    factory: Any = None
    if config.worker_class == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


def run(config: Config) -> int:
    """Serve with `config.workers` processes (0: in this one); the exit code."""
    sockets = config.create_sockets()
    try:
        if config.workers == 0:
            worker(config, sockets)
            return 0
        return _supervise(config, sockets)
    finally:
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()


def _supervise(config: Config, sockets: Sockets) -> int:
    ctx = get_context("spawn")
    shutdown_event = ctx.Event()
    active = True

    def shutdown(*_: Any) -> None:
        nonlocal active
        active = False
        shutdown_event.set()

    processes: list[BaseProcess] = []
    exitcode = 0
    while active:
        # Workers inherit "ignore SIGINT" (a terminal's Ctrl-C reaches the whole group): the
        # supervisor alone decides, and tells them through the shared event.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for _ in range(config.workers - len(processes)):
            process = ctx.Process(
                target=worker,
                kwargs={"config": config, "sockets": sockets, "shutdown_event": shutdown_event},
            )
            process.start()
            processes.append(process)
        for number in STOP_SIGNALS:
            signal.signal(number, shutdown)
        wait([process.sentinel for process in processes])
        for ended in [p for p in processes if not p.is_alive()]:
            ended.join()
            processes.remove(ended)
            if ended.exitcode:
                exitcode = ended.exitcode
        if exitcode:  # a worker failed: stop the others rather than serve with fewer
            shutdown()
    bound = config.graceful_timeout + config.shutdown_timeout + 5
    for left in processes:
        left.join(bound)
        if left.is_alive():
            left.terminate()
            left.join()
    return exitcode
