"""What every delivery channel promises the notification core.

A channel hands one message to one provider and says how that went, in a
closed vocabulary (:class:`SendOutcome`); what the provider later reports about
the message is said in our status vocabulary (:data:`ProviderStatus`, the same
words as ``notifications.statuses``, after GOV.UK Notify). Channels never touch
the database, never sleep and never retry by themselves: the job that calls
them decides when to try again, so a worker restart cannot double a send.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

#: Our status words for a message a provider has (or had) in hand.
ProviderStatus = Literal[
    "sending",            # handed to the provider, waiting for it to send
    "pending",            # the provider sent it on, waiting for the handset's receipt
    "delivered",          # the handset confirmed it
    "temporary-failure",  # not delivered: phone off, out of coverage, validity expired at carrier
    "permanent-failure",  # not delivered and never will be to this number
    "technical-failure",  # a problem between us and the provider; not the recipient's fault
]
FINAL_PROVIDER_STATUSES: frozenset[str] = frozenset(
    {"delivered", "temporary-failure", "permanent-failure", "technical-failure"}
)


class SendOutcome(StrEnum):
    """How a hand-over to a provider went.

    * ``ACCEPTED``: the provider has the message; ``provider_ref`` names it.
    * ``RETRY``: the provider certainly did not take it (throttled, unavailable,
      connection never made); safe to try again after ``retry_after`` or backoff.
    * ``FAILED``: the provider refused it for good (invalid number, opted out,
      …); ``status`` says which failure.
    * ``UNKNOWN``: the request may have reached the provider (timeout after
      sending, connection dropped, a 5xx from behind its front door). The
      message may exist: reconcile with :meth:`SmsChannel.lookup`, never
      blindly resend.
    """

    ACCEPTED = "accepted"
    RETRY = "retry"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SmsResult:
    outcome: SendOutcome
    provider_ref: str | None = None
    status: ProviderStatus | None = None
    error_code: int | None = None
    retry_after: float | None = None
    #: A short reason for support and logs (never the number or the text).
    reason: str | None = None
    #: The recipient asked the provider to stop (e.g. Twilio 21610): mark the
    #: number opted out until it changes or the person opts in again.
    opted_out: bool = False
    #: The number cannot receive SMS (landline, unknown, invalid): don't use it
    #: again until it changes.
    number_unusable: bool = False

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_PROVIDER_STATUSES


@runtime_checkable
class SmsChannel(Protocol):
    async def send(self, *, notification_id: int, to_e164: str, body: str,
                   validity_seconds: int) -> SmsResult:
        """Hand one SMS to the provider. Never raises for provider or network
        trouble: that is an outcome."""
        ...

    async def lookup(self, *, notification_id: int, provider_ref: str | None,
                     to_e164: str | None = None, body: str | None = None,
                     sent_after: datetime | None = None) -> SmsResult | None:
        """Reconcile after ``UNKNOWN``: what the provider has for this
        notification. ``None`` means the provider certainly has no such message
        (safe to send again); a result with outcome ``UNKNOWN`` means the
        question could not be answered now (ask again later)."""
        ...


def retry_delay(attempt: int, *, retry_after: float | None = None, base: float = 2.0,
                cap: float = 300.0, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from
    1): the provider's ``Retry-After`` when it gave one, else exponential
    backoff with full jitter (AWS architecture blog, "Exponential Backoff And
    Jitter"), capped."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, cap)
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(ceiling / 2, ceiling)
