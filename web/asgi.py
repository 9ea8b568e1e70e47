"""The ASGI application for servers: ``uvicorn web.asgi:app`` (what
``tanntid serve`` runs, in each of its processes)."""

from web.app import create_app
from web.health import drain_on_signals

app = create_app()
drain_on_signals(app)
