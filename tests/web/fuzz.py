"""What the pages' property-based fuzz tests (Hypothesis) share: the odd
values and tokens they send, the test's event loop that Hypothesis's worker
thread hands each request to, and a digest of the data that must not change.

"The data" is every table but the ones a request may rightly write whatever
it carries: the audit log (a refused look at someone else's data is recorded
on purpose), login sessions and the local test login's state (a login page
visited). Ids are drawn from values no row of the test world has (zero,
negatives, beyond 10**6, beyond 64 bits), so no example can be a genuine
booking or cancellation.

Hypothesis runs the examples in a worker thread; each request goes to the
test's own event loop (where the app and its database live), which the test
sets as :data:`LOOP` first, and the thread waits for it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Coroutine
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select

from core import tokens
from core.db import Base, Database

#: Tables a harmless request may still write (see the module's doc).
MAY_CHANGE = frozenset({"audit_log", "auth_sessions", "local_idporten_state"})

#: The running test's event loop: the test sets it before Hypothesis starts.
LOOP: asyncio.AbstractEventLoop | None = None


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coroutine`` on the test's loop from Hypothesis's thread."""
    assert LOOP is not None, "set tests.web.fuzz.LOOP to the test's loop first"
    return asyncio.run_coroutine_threadsafe(coroutine, LOOP).result(timeout=60)


# --- what is sent ----------------------------------------------------------------

huge = st.sampled_from([2**31, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1]).map(str)
foreign_id = st.one_of(st.integers(min_value=10**6, max_value=2**80),
                       st.integers(max_value=0)).map(str)
odd_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="0123456789-+_. ", max_size=25),
    st.sampled_from(["", " ", "me", "0", "٣", "１２", "1e9", "0x10", "NaN", "-1", "2026-02-30",
                     "9999-12-31", "0000-01-01", "../../etc", "%00", "<script>", "a" * 150]),
)
value = st.one_of(huge, foreign_id, odd_text)


def _token_of(number: int, tag_bytes: int) -> str:
    size = max(1, (number.bit_length() + 7) // 8)
    return tokens.encode(number.to_bytes(size, "big") + b"\x00" * tag_bytes)


token = st.one_of(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            max_size=40),
    # Ids of 63 bits and more in both token layouts (SMS: 6-byte tag; signed
    # links: 4-byte expiry and 8-byte tag).
    st.integers(min_value=2**62, max_value=2**64 - 1).flatmap(
        lambda n: st.sampled_from([_token_of(n, 6), _token_of(n, 12)])),
    st.sampled_from(["__________________8", "_" * 22, "A", "====", "%2F", "x.ics"]),
)


# --- what must not change ----------------------------------------------------------

async def fingerprint(db: Database) -> dict[str, str]:
    """A digest of every row of every table that must not change."""
    digests = {}
    async with db.read() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in MAY_CHANGE:
                continue
            rows = (await session.execute(select(table).order_by(*table.primary_key.columns))
                    ).all()
            digests[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests
