"""An ASGI app served by uvicorn on a free loopback port, in a background
thread with its own event loop: the local fakes of the national services and
Twilio (tests and ``make run``) and the stand-ins tests put beside them."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp


class QuickStopServer(uvicorn.Server):
    """uvicorn's server, noticing ``should_exit`` within 5 ms instead of
    100 ms: tests start and stop hundreds of fakes."""

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.005)
            should_exit = await self.on_tick(counter)


class LoopbackServer:
    """``start()`` binds 127.0.0.1 on a free port (or ``port``) and returns the
    base URL; ``stop()`` shuts the server down and waits for its thread."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0,
                 name: str = "loopback") -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def start(self, timeout: float = 10.0) -> str:
        if self._server is not None:
            return self.url
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        # Access logs off: callback URLs and list queries are nobody's business.
        # log_config=None: uvicorn's default dictConfig would close every
        # handler already on the root logger (the test run's log file included).
        config = uvicorn.Config(self.app, log_config=None, log_level="warning",
                                access_log=False, lifespan="on", timeout_keep_alive=30)
        server = QuickStopServer(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  name=f"{self.name}-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                server.should_exit = True
                sock.close()
                raise RuntimeError(f"the {self.name} server did not start")
            time.sleep(0.005)
        self._server, self._thread, self._sock = server, thread, sock
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


@contextmanager
def serving(app: ASGIApp, *, host: str = "127.0.0.1", name: str = "loopback") -> Iterator[str]:
    """``with serving(app) as url: ...``"""
    server = LoopbackServer(app, host=host, name=name)
    try:
        yield server.start()
    finally:
        server.stop()
