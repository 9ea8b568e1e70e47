"""Delivery channels: one adapter per provider, each the only module that
imports its client or speaks HTTP to its service. They take plain
configuration values (``from_settings`` reads the documented setting names)
and never touch the database.

* :mod:`~notifications.channels.base`: the interface (:class:`SendOutcome`,
  :class:`SmsResult`, :class:`SmsChannel`).
* :mod:`~notifications.channels.twilio_sms` and
  :mod:`~notifications.channels.twilio_status`: SMS through Twilio.
* :mod:`~notifications.channels.helsenorge`: appointments to Helsenorge.
* :mod:`~notifications.channels.krr`: contact details from KRR.

Their HelseID and Maskinporten tokens come from :mod:`core.oauth`.
"""

from notifications.channels.base import (
    FINAL_PROVIDER_STATUSES,
    ProviderStatus,
    SendOutcome,
    SmsChannel,
    SmsResult,
    retry_delay,
)

__all__ = ["FINAL_PROVIDER_STATUSES", "ProviderStatus", "SendOutcome", "SmsChannel",
           "SmsResult", "retry_delay"]
