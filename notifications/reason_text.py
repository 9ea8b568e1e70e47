"""Plain words for why a notification ended, or waits, the way it did: one
text per :class:`~notifications.statuses.Reason`, translated from the
catalogs (``N_`` marks them for ``make messages``). Support's screens and the
development outbox (``/dev/sms``) both ask :func:`reason_text`, so a reason
is explained the same way everywhere. A reason that is not one of ours (a
provider's own short text, stored as it came) is shown as it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from booking.reasons import N_
from core.i18n import translations
from notifications.statuses import NotificationStatus, Reason, describe

R = Reason
REASON_TEXT: Final[Mapping[Reason, str]] = {
    R.SUPERSEDED: N_("Not sent: the appointment was changed or cancelled before the message "
                     "went."),
    R.NO_MOBILE: N_("Not sent: we have no mobile number for the recipient."),
    R.NOT_MOBILE: N_("Not sent: the number is not a mobile number."),
    R.RESERVED: N_("Not sent: the recipient has opted out of digital contact in the contact "
                   "register (KRR)."),
    R.STALE_NUMBER: N_("Not sent: the number in the contact register (KRR) has not been "
                       "confirmed in the last 18 months."),
    R.NOT_NOTIFIABLE: N_("Not sent: the contact register (KRR) says the recipient may not be "
                         "notified."),
    R.OPTED_OUT: N_("Not sent: the number replied STOP."),
    R.NUMBER_FAILED: N_("Not sent: earlier messages to this number failed for good."),
    R.EXPIRED: N_("Not sent: it could not go out before it was too late to be of use."),
    R.EXPIRED_BEFORE_SENDING_HOURS: N_(
        "Not sent: the appointment starts before the sending hours open again, so the text "
        "would have come too late."),
    R.TIMEOUT: N_("No final answer from the provider within 72 hours."),
    R.RETRIES_EXHAUSTED: N_("Not sent: the provider was busy or could not be reached every "
                            "time we tried."),
    R.PROVIDER_REJECTED: N_("Not sent: the provider refused the message."),
    R.PROVIDER_BUSY: N_("Waiting: the provider asked us to try again a little later."),
    R.IN_DOUBT: N_("Checking with the provider whether an earlier attempt went through, "
                   "before trying again."),
    R.QUIET_HOURS: N_("Waiting for the sending hours: no text messages go out in the evening "
                      "or at night."),
    R.REGISTER_UNAVAILABLE: N_("Waiting: the contact register (KRR) did not answer; we try "
                               "again every few minutes."),
    R.AFTER_EARLIER: N_("Waiting for the earlier update of this appointment to reach "
                        "Helsenorge first."),
    R.NO_CHANNEL: N_("Not sent: no channel is set up for it."),
    R.DAILY_CAP: N_("Not sent: this number has had as many text messages today as we send "
                    "to one number in a day."),
    R.BURST: N_("Waiting two minutes: another message just went to this person, and a "
                "change right after it would replace this one."),
    R.CONFIRMED: N_("Not sent: a second reminder, and the appointment was confirmed before "
                    "it was due."),
    R.HELSENORGE_FIRST: N_("Waiting: the patient chose reminders on Helsenorge; this text "
                           "goes only if Helsenorge does not take the reminder."),
    R.BY_HELSENORGE: N_("Not sent by SMS: Helsenorge took the reminder, as the patient "
                        "chose."),
}

#: Why a waiting message without a reason of its own has not gone yet.
SCHEDULED: Final = N_("Scheduled: goes at its time.")
DUE_NOW: Final = N_("Due now: on its way to the provider.")


def reason_text(reason: str | None, language: str = "nb") -> str | None:
    """The words for ``reason`` in ``language`` (None for no reason)."""
    if not reason:
        return None
    try:
        english = REASON_TEXT[Reason(reason)]
    except ValueError:
        return reason  # a provider's own words, kept as they came
    return translations(language).gettext(english)


def words(english: str, language: str = "nb") -> str:
    """One of this module's other texts (:data:`SCHEDULED`, :data:`DUE_NOW`)."""
    return translations(language).gettext(english)


def explain(status: NotificationStatus | str, reason: str | None, language: str = "nb") -> str:
    """What support reads about a notification: the words of its reason when
    it is one of ours (an expired message says why it expired, not "a
    technical problem"), else the status's words with the provider's reason."""
    if reason:
        try:
            return translations(language).gettext(REASON_TEXT[Reason(reason)])
        except ValueError:
            return f"{describe(status, language)} ({reason})"
    return describe(status, language)
