"""Twilio's message statuses and error codes, mapped to our status words.

One data table per provider, each entry with a reason support can read
(GOV.UK Notify's habit: ``app/clients/sms/firetext.py``). Sources: Twilio's
"Outbound message status in status callbacks" guide and its error dictionary
(https://www.twilio.com/docs/api/errors/<code>).

Message statuses
================

======================================  ==============================================
Twilio ``MessageStatus``                our status
======================================  ==============================================
``accepted``, ``scheduled``, ``queued``  ``sending``
``sending``, ``sent``                    ``pending``
``delivered`` (also ``read``)            ``delivered``
``undelivered``                          by ``ErrorCode``; unknown → ``temporary-failure``
``failed``                               by ``ErrorCode``; unknown → ``technical-failure``
``canceled``                             ``technical-failure`` (we never schedule)
anything else                            ``None``: log, ignore; the 72 h timeout decides
======================================  ==============================================

``undelivered`` means the carrier could not deliver, so an unknown code is
treated like a phone that was off; ``failed`` means Twilio could not send at
all, which is between us and Twilio.

Error codes
===========

See :data:`ERROR_CODES`. Our decisions beyond the obvious ones:

* 30001 (queue overflow) and 30036 (validity period expired in Twilio's
  queue) are ``technical-failure``: we sent faster than the sender's rate; the
  recipient did nothing wrong and the number stays usable.
* 30007 (filtered by the carrier) is ``technical-failure``: our content or
  sender was blocked; operations must look at it.
* 30002 (account suspended), 21212/21606 (bad sender), 21408 (no geo
  permission) are ``technical-failure``: configuration.
* 21611 (sender queue full) and 20429 (too many concurrent requests) at
  creation mean "not taken": retry with backoff.
* 20003 (authentication) at creation is retried too: nothing was sent, and
  the messages should flow once operations fix the credentials (the job's retry
  budget still ends it in ``technical-failure``).

HTTP statuses when creating a message
=====================================

* 2xx → accepted.
* 429 and 503 → retry (Twilio says it did not take the request).
* 500, 502, 504 and other 5xx → **unknown**: the message may have been created
  behind Twilio's front door; reconcile before sending again. Messages has no
  idempotency key, so this is the only way not to send twice.
* other 4xx → by error code; unknown codes are final ``technical-failure``.
"""

from __future__ import annotations

from dataclasses import dataclass

from notifications.channels.base import ProviderStatus, SendOutcome

#: Twilio ``MessageStatus`` → our status (``None``: decided by the error code).
MESSAGE_STATUSES: dict[str, ProviderStatus | None] = {
    "accepted": "sending",
    "scheduled": "sending",
    "queued": "sending",
    "sending": "pending",
    "sent": "pending",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": None,
    "failed": None,
    "canceled": "technical-failure",
}
FAILED_STATUSES = frozenset({"undelivered", "failed"})


@dataclass(frozen=True)
class ErrorCode:
    status: ProviderStatus
    reason: str
    #: Never send to this number again until it changes.
    number_unusable: bool = False
    #: The recipient opted out (STOP): mark the number so.
    opted_out: bool = False
    #: At creation: the message was not taken, try again later.
    retry: bool = False


#: Twilio error code → what it means for us.
ERROR_CODES: dict[int, ErrorCode] = {
    # Delivery (in callbacks with MessageStatus undelivered/failed).
    30001: ErrorCode("technical-failure", "Twilio queue overflow: sending too fast"),
    30002: ErrorCode("technical-failure", "Twilio account suspended"),
    30003: ErrorCode("temporary-failure", "Handset unreachable (off or out of coverage)"),
    30004: ErrorCode("permanent-failure", "Message blocked by the recipient or carrier",
                     number_unusable=True),
    30005: ErrorCode("permanent-failure", "Unknown destination handset",
                     number_unusable=True),
    30006: ErrorCode("permanent-failure", "Landline or unreachable carrier",
                     number_unusable=True),
    30007: ErrorCode("technical-failure", "Filtered by the carrier (content or sender)"),
    30008: ErrorCode("temporary-failure", "Unknown delivery error"),
    30009: ErrorCode("temporary-failure", "Missing segment"),
    30017: ErrorCode("temporary-failure", "Carrier network congestion"),
    30018: ErrorCode("technical-failure", "Sender ID needs registration at the carrier"),
    30036: ErrorCode("technical-failure", "Validity period expired in Twilio's queue"),
    # At creation (HTTP 4xx) or in callbacks.
    20003: ErrorCode("technical-failure", "Twilio authentication failed", retry=True),
    20429: ErrorCode("technical-failure", "Too many concurrent requests", retry=True),
    21211: ErrorCode("permanent-failure", "Invalid 'To' number", number_unusable=True),
    21212: ErrorCode("technical-failure", "Invalid 'From' number"),
    21408: ErrorCode("technical-failure", "No permission to send to this region"),
    21602: ErrorCode("technical-failure", "Message body is required"),
    21603: ErrorCode("technical-failure", "A 'From' number or Messaging Service is required"),
    21606: ErrorCode("technical-failure", "'From' number cannot send SMS"),
    21610: ErrorCode("permanent-failure", "Recipient opted out (STOP)",
                     number_unusable=True, opted_out=True),
    21611: ErrorCode("technical-failure", "Sender queue full", retry=True),
    21612: ErrorCode("technical-failure", "Cannot route from this sender to this number"),
    21614: ErrorCode("permanent-failure", "Number cannot receive SMS", number_unusable=True),
    21617: ErrorCode("technical-failure", "Message body too long"),
    21635: ErrorCode("permanent-failure", "Number is a landline", number_unusable=True),
}


@dataclass(frozen=True)
class MappedStatus:
    status: ProviderStatus | None
    reason: str | None = None
    number_unusable: bool = False
    opted_out: bool = False


def map_message_status(twilio_status: str, error_code: int | None = None) -> MappedStatus:
    """Our status for a Twilio ``MessageStatus`` (with its ``ErrorCode``)."""
    key = twilio_status.strip().lower()
    if key not in MESSAGE_STATUSES:
        return MappedStatus(None, f"Unknown Twilio status {key!r}")
    ours = MESSAGE_STATUSES[key]
    if ours is not None:
        return MappedStatus(ours, None)
    entry = ERROR_CODES.get(error_code) if error_code is not None else None
    if entry is not None:
        return MappedStatus(entry.status, entry.reason, entry.number_unusable, entry.opted_out)
    if key == "undelivered":
        return MappedStatus("temporary-failure", f"Undelivered (error {error_code})")
    return MappedStatus("technical-failure", f"Failed (error {error_code})")


@dataclass(frozen=True)
class HttpClassification:
    outcome: SendOutcome
    status: ProviderStatus | None
    reason: str
    number_unusable: bool = False
    opted_out: bool = False


def classify_create_error(http_status: int, error_code: int | None) -> HttpClassification:
    """What a non-2xx answer to "create message" means (see the module doc)."""
    if http_status == 429 or error_code == 20429:
        return HttpClassification(SendOutcome.RETRY, None, "Throttled by Twilio (429)")
    if http_status == 503:
        return HttpClassification(SendOutcome.RETRY, None, "Twilio unavailable (503)")
    if http_status >= 500:
        return HttpClassification(SendOutcome.UNKNOWN, None,
                                  f"Twilio error {http_status}: the message may exist")
    entry = ERROR_CODES.get(error_code) if error_code is not None else None
    if entry is None:
        return HttpClassification(SendOutcome.FAILED, "technical-failure",
                                  f"Refused by Twilio (HTTP {http_status}, code {error_code})")
    if entry.retry:
        return HttpClassification(SendOutcome.RETRY, None, entry.reason)
    return HttpClassification(SendOutcome.FAILED, entry.status, entry.reason,
                              entry.number_unusable, entry.opted_out)
