"""Where to send the browser after login: local paths only.

A ``next`` value is accepted only if it is a path on this site: it starts with
one ``/``, holds only printable ASCII (no backslashes, no whitespace or
control characters), and still looks like that after percent-decoding, as
many times as it decodes. Everything else (``//evil``, ``/\\evil``,
``https://…``, ``/%2F%2Fevil``, ``javascript:…``, tabs and newlines) falls
back to the default. Wonderwall keeps a corpus of such payloads; ours is in
``tests/idporten/open_redirects.txt``.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_LENGTH = 1000
#: Login and logout pages are never a place to come back to (a loop).
_NEVER = ("/auth/", "/staff/auth/")


def _local_path(value: str) -> bool:
    """A path on this site: one leading slash, no backslash or control character,
    no scheme or host."""
    if not value.startswith("/") or value.startswith("//"):
        return False
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in value):
        return False
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return False
    # Dot segments ("/.//evil") can collapse into "//" when the browser resolves them.
    return not any(segment in (".", "..") for segment in parts.path.split("/"))


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` when it is a harmless local path, else ``default``."""
    if not value or len(value) > MAX_LENGTH:
        return default
    # The text itself: printable ASCII only (a browser builds it percent-encoded).
    if any(not (0x21 <= ord(ch) <= 0x7E) for ch in value):
        return default
    current = value
    for _ in range(5):
        if not _local_path(current):
            return default
        decoded = unquote(current)
        if decoded == current:
            break
        current = decoded
    else:
        return default  # still decoding after five rounds: not a real path
    if value.startswith(_NEVER):
        return default
    return value
