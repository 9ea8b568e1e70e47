"""Appointments to the patient's Helsenorge: Helsenorge's REST
"Timenotifikasjon" (a PUT of a FHIR R4 ``Appointment`` in the
``hn-basis-appointment`` shape), authenticated with a HelseID
client-credentials token obtained with ``private_key_jwt``.

* One PUT per change of an appointment. Helsenorge keys appointments on
  ``identifier`` (system + value), recognises new, changed and identical
  versions and notifies the citizen only on relevant changes, so a repeated
  PUT is harmless: the channel never answers ``UNKNOWN``; a timeout is simply
  ``RETRY``.
* The resource is built as JSON, then validated with ``fhir.resources``
  (FHIR R4B, whose Appointment is R4's; the package's default module is R5)
  and against the hn-basis constraints in :func:`hn_basis_problems`
  (``HnBasisAppointment.fsh`` 2.5.x, helsenorge/diverse_helsenorgeFhirProfiler).
* The patient is a *logical* reference by identity number: fødselsnummer
  ``urn:oid:2.16.578.1.12.4.1.4.1`` or D-nummer ``urn:oid:2.16.578.1.12.4.1.4.2``.
  Identity numbers go only into the request body, never into URLs or logs.

To confirm when onboarding with Helsenorge: the service category code for
dental services (the published value set has none; ours is configurable), the
HelseID scope name, and the ``varsling``/``paminnelse`` meta tags. A patient
who chose Helsenorge for their reminders (``notifications.helsenorge_first``)
gets their first reminder as a PUT of the appointment carrying the
``paminnelse`` tag (:data:`REMINDER_TAG`, configurable), asking Helsenorge to
remind them by its own notice; every other PUT carries no tag.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from fhir.resources.R4B.appointment import Appointment
from pydantic import ValidationError

from core.locale import OSLO
from core.oauth import SigningKey, TokenError, TokenSource, client_credentials
from notifications.channels.base import SendOutcome

FNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.1"
DNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.2"
ORGNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.101"  # Enhetsregisteret (ENH)
HER_ID_SYSTEM = "urn:oid:2.16.578.1.12.4.1.2"
PROFILE = "http://helsenorge.no/fhir/StructureDefinition/hn-basis-appointment"
STATUSES = frozenset({"booked", "fulfilled", "cancelled", "noshow", "entered-in-error",
                      "proposed"})
#: Placeholder scope until HelseID self-service shows the real one (HELSEID_SCOPE).
DEFAULT_SCOPE = "helsenorge:timeavtaler"


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str

    def concept(self) -> dict[str, Any]:
        return {"coding": [{"system": self.system, "code": self.code,
                            "display": self.display}]}


# Volven 7617 "Timetype innbyggerportal".
ORDINARY = Code("urn:oid:2.16.578.1.12.4.1.1.7617", "Ordinær", "Ordinær time")
URGENT = Code("urn:oid:2.16.578.1.12.4.1.1.7617", "Hastetime", "Hastetime")
# Volven 7621 "Avlysningskoder" (primary care), in hn-cancellation-reason-vs.
CANCELLED_BY_SERVICE = Code("urn:oid:2.16.578.1.12.4.1.1.7621", "AAT", "Avlyst av tjeneste")
CANCELLED_BY_PATIENT = Code("urn:oid:2.16.578.1.12.4.1.1.7621", "AAI", "Avlyst av innbygger")
CANCELLED_FOR_PATIENT = Code("urn:oid:2.16.578.1.12.4.1.1.7621", "APVAI",
                             "Avlyst på vegne av innbygger")
#: Our own code until Helsenorge assigns one (HELSENORGE_SERVICE_CATEGORY).
DENTAL_SERVICE = Code("https://tanntid.no/fhir/CodeSystem/service-category", "tannhelse",
                      "Den offentlige tannhelsetjenesten")

#: Our placeholder for Helsenorge's ``paminnelse`` tag until onboarding
#: confirms its code system (HELSENORGE_REMINDER_TAG: ``system|code``).
REMINDER_TAG = Code("https://tanntid.no/fhir/CodeSystem/helsenorge-tag", "paminnelse",
                    "Påminnelse")


def reminder_tag_from(text: str | None) -> Code:
    """``HELSENORGE_REMINDER_TAG`` (``system|code``, or ``system|code|display``)."""
    if not text:
        return REMINDER_TAG
    parts = text.split("|", 2)
    if len(parts) < 2 or not all(parts):
        raise ValueError("HELSENORGE_REMINDER_TAG must be system|code")
    return Code(parts[0], parts[1], parts[2] if len(parts) == 3 else REMINDER_TAG.display)


@dataclass(frozen=True)
class Clinic:
    name: str
    #: The organisation that runs the clinic (the county's dental service).
    organisation_name: str
    org_number: str
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    her_id: str | None = None


@dataclass(frozen=True)
class AppointmentNotice:
    """One version of one appointment, as Helsenorge should show it."""

    appointment_id: str
    status: str
    start: datetime
    end: datetime
    patient_nin: str = field(repr=False)
    clinic: Clinic
    updated_at: datetime
    appointment_type: Code = ORDINARY
    cancellation_reason: Code | None = None
    description: str | None = None
    patient_instruction: str | None = None
    #: Ask Helsenorge to remind the patient (the ``paminnelse`` meta tag).
    reminder: bool = False


def identity_system(nin: str) -> str:
    """D-nummer (day + 40: first digit 4–7) or fødselsnummer."""
    return DNR_SYSTEM if nin[:1] in "4567" else FNR_SYSTEM


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("appointment times must be timezone-aware")
    return value.astimezone(OSLO).isoformat(timespec="seconds")


def build_appointment(notice: AppointmentNotice, *, identifier_system: str,
                      service_category: Code = DENTAL_SERVICE,
                      reminder_tag: Code = REMINDER_TAG) -> dict[str, Any]:
    """The FHIR ``Appointment`` JSON for ``notice`` (not yet validated)."""
    clinic = notice.clinic
    organisation = {"identifier": {"system": ORGNR_SYSTEM, "value": clinic.org_number},
                    "display": clinic.organisation_name}
    location: dict[str, Any] = {"resourceType": "Location", "id": "clinic",
                                "name": clinic.name, "managingOrganization": organisation}
    address = {k: v for k, v in (("line", [clinic.street] if clinic.street else None),
                                 ("postalCode", clinic.postal_code), ("city", clinic.city))
               if v}
    if address:
        location["address"] = {**address, "country": "NO"}
    contained: list[dict[str, Any]] = [location]
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "meta": {"profile": [PROFILE], "lastUpdated": _instant(notice.updated_at)},
        "contained": contained,
        "identifier": [{"system": identifier_system, "value": notice.appointment_id,
                        "assigner": organisation}],
        "status": notice.status,
        "serviceCategory": [service_category.concept()],
        "appointmentType": notice.appointment_type.concept(),
        "start": _instant(notice.start),
        "end": _instant(notice.end),
        "participant": [
            {"actor": {"type": "Patient",
                       "identifier": {"system": identity_system(notice.patient_nin),
                                      "value": notice.patient_nin}},
             "status": "accepted"},
            {"actor": {"reference": "#clinic", "display": clinic.name}, "status": "accepted"},
        ],
    }
    if clinic.her_id:
        contained.append({"resourceType": "Organization", "id": "kommunikasjonspart",
                          "identifier": [{"system": HER_ID_SYSTEM, "value": clinic.her_id}],
                          "name": clinic.name})
        resource["supportingInformation"] = [{"reference": "#kommunikasjonspart"}]
    if notice.cancellation_reason is not None:
        resource["cancelationReason"] = notice.cancellation_reason.concept()
    if notice.description:
        resource["description"] = notice.description
    if notice.patient_instruction:
        resource["patientInstruction"] = notice.patient_instruction
    if notice.reminder:
        resource["meta"]["tag"] = [{"system": reminder_tag.system, "code": reminder_tag.code,
                                    "display": reminder_tag.display}]
    return resource


def hn_basis_problems(resource: Mapping[str, Any]) -> list[str]:
    """Why ``resource`` is not a valid hn-basis-appointment ([] if it is):
    FHIR R4 structure (``fhir.resources``) plus the profile's constraints."""
    try:
        Appointment.model_validate(dict(resource))
    except ValidationError as exc:
        return [f"FHIR: {e['loc']}: {e['msg']}" for e in exc.errors()[:5]]
    problems: list[str] = []
    identifiers = resource.get("identifier") or []
    if len(identifiers) != 1:
        problems.append("identifier: exactly one required")
    elif not all(identifiers[0].get(k) for k in ("system", "value", "assigner")):
        problems.append("identifier: system, value and assigner required")
    status = resource.get("status")
    if status not in STATUSES:
        problems.append(f"status: {status!r} not in hn-appointment-status-vs")
    if len(resource.get("serviceCategory") or []) != 1:
        problems.append("serviceCategory: exactly one required")
    if not resource.get("appointmentType"):
        problems.append("appointmentType: required")
    for key in ("description", "patientInstruction"):
        if len(resource.get(key) or "") > 1000:
            problems.append(f"{key}: at most 1000 characters")
    if resource.get("cancelationReason") and status not in ("cancelled", "noshow"):
        problems.append("cancelationReason: only for cancelled or noshow")
    start, end = resource.get("start"), resource.get("end")
    if bool(start) != bool(end):
        problems.append("start and end: both or neither")
    elif start and end and datetime.fromisoformat(end) <= datetime.fromisoformat(start):
        problems.append("end: must be after start")
    elif not start and status not in ("proposed", "cancelled"):
        problems.append("start: required unless proposed or cancelled")
    if not (resource.get("meta") or {}).get("lastUpdated"):
        problems.append("meta.lastUpdated: required")
    if not any(c.get("resourceType") == "Location" for c in resource.get("contained") or []):
        problems.append("contained Location: required (virtualservice-or-location-required)")
    patients = [p for p in resource.get("participant") or []
                if (p.get("actor") or {}).get("type") == "Patient"]
    if len(patients) != 1:
        problems.append("participant: exactly one Patient")
    else:
        actor = patients[0]["actor"]
        ident = actor.get("identifier") or {}
        if actor.get("reference") or ident.get("system") not in (FNR_SYSTEM, DNR_SYSTEM) \
                or not ident.get("value"):
            problems.append("participant Patient: logical reference by fnr or D-nummer")
    return problems


@dataclass(frozen=True)
class SyncResult:
    outcome: SendOutcome
    http_status: int | None = None
    reason: str | None = None
    retry_after: float | None = None


def identifier_system_for(public_url: str) -> str:
    """The system of our appointment identifiers: a URL of the service's own."""
    return public_url.rstrip("/") + "/fhir/NamingSystem/appointment"


class HelsenorgeChannel:
    """PUTs appointments to Helsenorge's Timenotifikasjon API."""

    def __init__(self, *, api_url: str, token_url: str, client_id: str,
                 client_jwk: str | Mapping[str, Any], identifier_system: str,
                 audience: str | None = None, scope: str = DEFAULT_SCOPE,
                 service_category: Code = DENTAL_SERVICE, timeout: float = 15.0,
                 http: httpx.AsyncClient | None = None,
                 reminder_tag: Code = REMINDER_TAG) -> None:
        self.api_url = api_url.rstrip("/")
        self.identifier_system = identifier_system
        self.service_category = service_category
        self.reminder_tag = reminder_tag
        self._http = http or httpx.AsyncClient(timeout=timeout)
        # HelseID's profile (see core.oauth): a client assertion with ``aud`` =
        # HelseID's issuer, the token URL's origin; 30 s, with ``nbf``.
        issuer = audience or str(
            httpx.URL(token_url).copy_with(path="/", query=None)).rstrip("/")
        self.tokens = TokenSource(
            client_credentials(SigningKey.from_jwk(client_jwk), client_id=client_id,
                               scope=scope),
            http=self._http, issuer=issuer, token_url=token_url)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], **overrides: Any) -> HelsenorgeChannel:
        """From a mapping with the setting names the service uses:
        ``HELSENORGE_API_URL``, ``HELSEID_TOKEN_URL``, ``HELSEID_CLIENT_ID``,
        ``HELSEID_CLIENT_JWK``, and optional ``HELSENORGE_SCOPE`` and
        ``HELSENORGE_SERVICE_CATEGORY`` (``system|code|display``), with
        ``PUBLIC_URL`` for the identifier system (or ``identifier_system=``)."""
        category = DENTAL_SERVICE
        if settings.get("HELSENORGE_SERVICE_CATEGORY"):
            system, code, display = settings["HELSENORGE_SERVICE_CATEGORY"].split("|", 2)
            category = Code(system, code, display)
        identifier_system = identifier_system_for(settings.get("PUBLIC_URL", ""))
        values: dict[str, Any] = {
            "api_url": settings["HELSENORGE_API_URL"],
            "token_url": settings["HELSEID_TOKEN_URL"],
            "client_id": settings["HELSEID_CLIENT_ID"],
            "client_jwk": settings["HELSEID_CLIENT_JWK"],
            "scope": settings.get("HELSENORGE_SCOPE") or DEFAULT_SCOPE,
            "identifier_system": identifier_system,
            "service_category": category,
            "reminder_tag": reminder_tag_from(settings.get("HELSENORGE_REMINDER_TAG")),
        }
        values.update(overrides)
        return cls(**values)

    def resource_for(self, notice: AppointmentNotice) -> dict[str, Any]:
        return build_appointment(notice, identifier_system=self.identifier_system,
                                 service_category=self.service_category,
                                 reminder_tag=self.reminder_tag)

    async def put_appointment(self, notice: AppointmentNotice) -> SyncResult:
        try:
            resource = self.resource_for(notice)
        except ValueError as exc:
            return SyncResult(SendOutcome.FAILED, reason=f"Invalid appointment: {exc}")
        problems = hn_basis_problems(resource)
        if problems:
            return SyncResult(SendOutcome.FAILED,
                              reason="Invalid appointment: " + "; ".join(problems))
        body = json.dumps(resource, ensure_ascii=False).encode()
        for attempt in range(2):
            try:
                token = await self.tokens.token()
            except TokenError as exc:
                return SyncResult(SendOutcome.RETRY, exc.status, f"HelseID: {exc}")
            try:
                response = await self._http.put(
                    f"{self.api_url}/Appointment", content=body,
                    headers={"Authorization": f"Bearer {token}",
                             "Content-Type": "application/fhir+json; charset=utf-8",
                             "Accept": "application/fhir+json"})
            except httpx.HTTPError as exc:
                return SyncResult(SendOutcome.RETRY,
                                  reason=f"Helsenorge not reached: {type(exc).__name__}")
            if response.status_code == 401 and attempt == 0:
                self.tokens.forget()  # expired or revoked: one fresh token, once
                continue
            return _result_of(response)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._http.aclose()


def _result_of(response: httpx.Response) -> SyncResult:
    status = response.status_code
    if 200 <= status < 300:
        return SyncResult(SendOutcome.ACCEPTED, status)
    retry_after = None
    if response.headers.get("Retry-After", "").isdigit():
        retry_after = float(response.headers["Retry-After"])
    if status in (401, 403):
        return SyncResult(SendOutcome.RETRY, status, "Not authorised by Helsenorge (check "
                          "the HelseID client and its approved scope)")
    if status == 429 or status >= 500:
        return SyncResult(SendOutcome.RETRY, status, f"Helsenorge answered {status}",
                          retry_after)
    return SyncResult(SendOutcome.FAILED, status,
                      f"Refused by Helsenorge ({status}: {_issue_codes(response)})")


def _issue_codes(response: httpx.Response) -> str:
    """The OperationOutcome's issue codes only: diagnostics may quote the
    resource, identity number included."""
    try:
        issues = response.json().get("issue") or []
        return ", ".join(str(i.get("code")) for i in issues[:5]) or "no details"
    except (ValueError, AttributeError):
        return "no details"
