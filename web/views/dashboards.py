"""The county dashboards (``/staff/tall``): per county and per clinic of the
county, per week for the last twelve weeks, charts with the same numbers in
a table beside each. For county administrators only; the figures come from
:mod:`notifications.figures`, the charts from :mod:`web.charts`.

A clinic of another county is answered 404, and the attempt is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booking import audit
from booking.models import Clinic
from booking.reasons import N_
from core.db import Database, utcnow
from notifications import figures
from notifications.figures import WeekFigures
from web import charts, i18n
from web.auth.access import require_staff
from web.auth.roles import StaffRole
from web.auth.staff import StaffPrincipal
from web.templating import render

PATH: Final = "/staff/tall"
CLINIC_PATH: Final = f"{PATH}/klinikk"
ROLES: Final = (StaffRole.COUNTY_ADMIN,)
#: Audited: a county administrator asked for a clinic outside their county.
REFUSED_ACTION: Final = "dashboards.clinic.outside_county"
AUDIT_PURPOSE: Final = "oversight"

Format = Literal["count", "percent", "nok", "minutes"]


@dataclass(frozen=True)
class Column:
    label: str  # an English msgid, translated where shown
    value: Callable[[WeekFigures], float | None]
    format: Format = "count"


@dataclass(frozen=True)
class Chart:
    key: str  # the chart's name in its address
    title: str
    kind: str  # web.charts.KINDS
    y_title: str
    drawn: tuple[Column, ...]
    #: Only in the table: what the drawn numbers are made of.
    more: tuple[Column, ...] = field(default=())

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.drawn + self.more


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


CHARTS: Final = (
    Chart("timer", N_("Appointments"), "bar", N_("Appointments"),
          (Column(N_("Appointments"), lambda w: w.appointments),)),
    Chart("ikke-mott", N_("No-shows as a share of booked clinical time"), "line",
          N_("Per cent of booked minutes"),
          (Column(N_("No-shows, per cent of booked minutes"),
                  lambda w: _percent(w.no_show_share), "percent"),),
          (Column(N_("Booked minutes"), lambda w: w.booked_minutes, "minutes"),
           Column(N_("No-show minutes"), lambda w: w.no_show_minutes, "minutes"),
           Column(N_("No-shows"), lambda w: w.no_shows))),
    Chart("avbestillinger", N_("Cancellations by notice"), "stacked", N_("Cancellations"),
          (Column(N_("Under 24 hours before"), lambda w: w.cancelled_under_24h),
           Column(N_("1 to 7 days before"), lambda w: w.cancelled_1_to_7_days),
           Column(N_("Over 7 days before"), lambda w: w.cancelled_over_7_days))),
    Chart("selvbetjening", N_("Booked or changed by patients themselves or by staff"),
          "stacked", N_("Bookings and changes"),
          (Column(N_("By patients and guardians"), lambda w: w.by_patients),
           Column(N_("By staff and the record system"), lambda w: w.by_staff)),
          (Column(N_("Share by patients and guardians"),
                  lambda w: _percent(w.self_service_share), "percent"),)),
    Chart("sms", N_("Text messages"), "bar", N_("Text messages"),
          (Column(N_("Sent"), lambda w: w.sms_sent),
           Column(N_("Delivered"), lambda w: w.sms_delivered),
           Column(N_("Failed"), lambda w: w.sms_failed))),
    Chart("sms-kostnad", N_("Cost of text messages"), "bar", N_("NOK"),
          (Column(N_("Cost, NOK"), lambda w: w.sms_cost_ore / 100, "nok"),),
          (Column(N_("Segments charged"), lambda w: w.sms_segments),)),
    Chart("helsenorge", N_("Appointments sent to Helsenorge"), "stacked", N_("Messages"),
          (Column(N_("Accepted by Helsenorge"), lambda w: w.helsenorge_delivered),
           Column(N_("Refused by Helsenorge"), lambda w: w.helsenorge_failed))),
)
CHART_BY_KEY: Final = {chart.key: chart for chart in CHARTS}


def _format(value: float | None, kind: Format, locale: str) -> str | None:
    """The number as the page shows it; None where there is none (no booked time)."""
    if value is None:
        return None
    if kind == "percent":
        return format_percent(value / 100, "#,##0.0 %", locale=locale)
    if kind == "nok":
        return format_decimal(value, "#,##0.00", locale=locale)
    return format_decimal(value, "#,##0", locale=locale)


async def _admin(request: Request) -> StaffPrincipal:
    staff = await require_staff(request)
    if not staff.has_role(*ROLES):
        raise HTTPException(403)
    return staff


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def _clinic(request: Request, staff: StaffPrincipal) -> Clinic:
    """The clinic of the address, in the administrator's county; else 404
    (audited when the clinic is another county's)."""
    slug = str(request.path_params["slug"])[:120]
    clinic = await figures.clinic_by_slug(_db(request), slug)
    if clinic is None:
        raise HTTPException(404)
    if clinic.county_id != staff.grant.county_id:
        async with _db(request).write() as session:
            await audit.record(session, staff.actor, REFUSED_ACTION, purpose=AUDIT_PURPOSE,
                               detail={"clinic_id": clinic.id, "refused": "outside_county"})
        raise HTTPException(404)
    return clinic


async def _figures(request: Request, staff: StaffPrincipal, clinic: Clinic | None,
                   now: datetime) -> figures.Figures:
    """The figures up to this minute: the page and its charts (one request
    each) count once per minute, not once per image."""
    minute = now.replace(second=0, microsecond=0)
    key = (staff.grant.county_id, clinic.id if clinic else None, minute)
    cache: dict[tuple[int, int | None, datetime], figures.Figures] | None = getattr(
        request.app.state, "dashboard_figures", None)
    if cache is None:
        cache = request.app.state.dashboard_figures = {}
    found = cache.get(key)
    if found is None:
        found = await figures.weekly_figures(
            _db(request), county_id=staff.grant.county_id,
            clinic_id=clinic.id if clinic else None, now=minute,
            price_per_segment_ore=request.app.state.settings.sms_price_per_segment_ore)
        for old in [k for k in cache if k[2] != minute]:
            del cache[old]
        cache[key] = found
    return found


def _tables(data: figures.Figures, locale: str) -> list[dict[str, object]]:
    """Each chart with its table's rows: the week, then the formatted numbers."""
    gettext = i18n.gettext
    tables = []
    for chart in CHARTS:
        rows = [(gettext("Week %(number)s") % {"number": row.week.number},
                 format_date(row.week.monday, "short", locale=locale),
                 [_format(column.value(row), column.format, locale)
                  for column in chart.columns])
                for row in data.weeks]
        tables.append({"chart": chart, "title": gettext(chart.title),
                       "headers": [gettext(c.label) for c in chart.columns], "rows": rows})
    return tables


async def _page(request: Request, staff: StaffPrincipal, clinic: Clinic | None) -> Response:
    locale = i18n.activate(request)
    now = utcnow()
    data = await _figures(request, staff, clinic, now)
    county = await figures.county_name(_db(request), staff.grant.county_id)
    base = f"{CLINIC_PATH}/{clinic.slug}" if clinic else PATH
    clinics = [] if clinic else await figures.county_clinics(_db(request), staff.grant.county_id)
    return render(request, "dashboards/dashboard.html", {
        "county": county, "clinic": clinic, "tables": _tables(data, locale),
        "chart_base": f"{base}/graf", "first": data.weeks[0].week.starts_at,
        "last": data.weeks[-1].week.starts_at, "weeks": len(data.weeks),
        "price": format_decimal(data.price_per_segment_ore / 100, "#,##0.00", locale=locale),
        "clinics": [(c, f"{CLINIC_PATH}/{c.slug}") for c in clinics],
        "paths": {"county": PATH},
    }, headers={"Cache-Control": "private, no-store"})


async def county_page(request: Request) -> Response:
    staff = await _admin(request)
    return await _page(request, staff, None)


async def clinic_page(request: Request) -> Response:
    staff = await _admin(request)
    return await _page(request, staff, await _clinic(request, staff))


def _svg(request: Request, chart: Chart, data: figures.Figures) -> bytes:
    gettext = i18n.gettext
    return charts.draw(
        chart.kind, title=gettext(chart.title), x_title=gettext("Week"),
        y_title=gettext(chart.y_title), x_labels=[str(w.week.number) for w in data.weeks],
        series=[(gettext(c.label), [c.value(w) for w in data.weeks]) for c in chart.drawn],
        no_data=gettext("No figures"))


async def _chart(request: Request, staff: StaffPrincipal, clinic: Clinic | None) -> Response:
    chart = CHART_BY_KEY.get(str(request.path_params["chart"]))
    if chart is None:
        raise HTTPException(404)
    i18n.activate(request)
    data = await _figures(request, staff, clinic, utcnow())
    return Response(_svg(request, chart, data), media_type="image/svg+xml", headers={
        "Content-Security-Policy": charts.SVG_POLICY,
        "Cache-Control": "private, no-store", "Vary": "Cookie, Accept-Language"})


async def county_chart(request: Request) -> Response:
    staff = await _admin(request)
    return await _chart(request, staff, None)


async def clinic_chart(request: Request) -> Response:
    staff = await _admin(request)
    return await _chart(request, staff, await _clinic(request, staff))


def chart_keys() -> Sequence[str]:
    return [chart.key for chart in CHARTS]


def routes() -> list[BaseRoute]:
    return [
        Route(PATH, county_page, name="dashboards"),
        Route(f"{PATH}/graf/{{chart}}.svg", county_chart, name="dashboards_chart"),
        Route(f"{CLINIC_PATH}/{{slug}}", clinic_page, name="dashboards_clinic"),
        Route(f"{CLINIC_PATH}/{{slug}}/graf/{{chart}}.svg", clinic_chart,
              name="dashboards_clinic_chart"),
    ]
