"""The baseline of the page benchmark: a bare Starlette "hello" endpoint,
served by uvicorn exactly as ``tanntid serve`` serves the service (same
server, same number of worker processes), so a page's requests per second
can be read as a share of what the server and the machine manage at all."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


app = Starlette(routes=[Route("/", hello)])
