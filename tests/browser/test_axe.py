"""axe-core over every public page, in every language (on the screens
``live.PUBLIC_CASES`` gives):
zero violations of WCAG 2.1 A and AA (and of the best-practice rules for
headings, landmarks and the skip link). Also the things axe cannot see: the
``lang`` attribute, a skip link that moves focus, reflow at 320 px, and
reduced motion."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.browser.live import (
    LANGUAGES,
    PAGE_NAMES,
    PUBLIC_CASES,
    LiveServer,
    Tab,
    check_axe,
    describe_violations,
    page_spec,
    pages,
)

#: Longest transition or animation allowed under prefers-reduced-motion: reduce.
MOTION_LIMIT_S = 0.01
_DURATION = re.compile(r"^\s*([\d.]+)(ms|s)\s*$")


def _open(tab: Tab, server: LiveServer, name: str) -> None:
    spec = page_spec(server, name)
    response = tab.page.goto(spec.path, wait_until="load")
    assert response is not None and response.status == spec.status, (
        f"{spec.path}: HTTP {response.status if response else None}, expected {spec.status}")


@pytest.mark.parametrize("name", PAGE_NAMES)
@pytest.mark.parametrize(("lang", "viewport"), PUBLIC_CASES,
                         ids=[f"{lang}-{viewport}" for lang, viewport in PUBLIC_CASES])
def test_axe_finds_no_violations(tabs: Callable[..., Tab], live_server: LiveServer,
                                 axe_source: str, lang: str, viewport: str, name: str) -> None:
    tab = tabs(lang, viewport)
    tab.csp_errors.clear()
    _open(tab, live_server, name)
    assert tab.page.evaluate("document.documentElement.lang") == lang
    violations = check_axe(tab.page, axe_source)
    assert not violations, describe_violations(
        violations, f"{page_spec(live_server, name).path} ({lang}, {viewport})")
    assert not tab.csp_errors, "Content-Security-Policy violations:\n" + "\n".join(tab.csp_errors)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_sideways_scrolling_at_320_px(tabs: Callable[..., Tab], live_server: LiveServer,
                                         lang: str) -> None:
    """WCAG 1.4.10 Reflow: nothing wider than a 320 CSS px screen."""
    tab = tabs(lang, "narrow")
    too_wide = []
    for spec in pages(live_server.demo):
        tab.page.goto(spec.path, wait_until="load")
        widths = tab.page.evaluate("""() => {
            const width = document.documentElement.clientWidth;
            const sticksOut = el => {
                const box = el.getBoundingClientRect();
                return box.right > width + 0.5 || box.left + el.scrollWidth > width + 0.5;
            };
            const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                + (typeof el.className === 'string' && el.className.trim()
                   ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
                + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
            // The innermost elements wider than the window: the culprits.
            const wide = [...document.body.querySelectorAll('*')].filter(sticksOut)
                .filter(el => getComputedStyle(el).overflowX === 'visible')
                .filter(el => ![...el.children].some(sticksOut));
            return {scroll: document.documentElement.scrollWidth, client: width,
                    wide: wide.slice(0, 5).map(describe)};
        }""")
        if widths["scroll"] > widths["client"]:
            too_wide.append(f"{spec.path}: {widths['scroll']}px wide in a {widths['client']}px "
                            f"window; widest: {', '.join(widths['wide'])}")
    assert not too_wide, "\n".join(too_wide)


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_skip_link_is_first_and_moves_focus_to_main(
        tabs: Callable[..., Tab], live_server: LiveServer, name: str) -> None:
    tab = tabs("nb", "phone")
    page = tab.page
    _open(tab, live_server, name)
    hidden = page.evaluate("""() => {
        const box = document.querySelector('a[href="#main"]').getBoundingClientRect();
        return box.width <= 1 && box.height <= 1;
    }""")
    assert hidden, "the skip link is visible before it has focus"
    page.keyboard.press("Tab")
    first = page.evaluate("""() => {
        const el = document.activeElement, box = el.getBoundingClientRect();
        return {tag: el.tagName, href: el.getAttribute('href'), text: el.textContent.trim(),
                visible: box.width > 1 && box.height > 1 && box.top >= 0
                         && box.bottom <= innerHeight};
    }""")
    assert first["tag"] == "A" and first["href"] == "#main", (
        f"the first focusable element is {first}, not the skip link")
    # Its appearance on focus is its focus indicator (Designsystemet's
    # .ds-skip-link sets outline: 0 and is hidden until focused).
    assert first["visible"], "the skip link does not appear when it has focus"
    assert first["text"], "the skip link has no text"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.evaluate("document.activeElement.tagName") == "MAIN"
    # The next Tab continues inside main (every page has a link there), not in the header.
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('main')"), (
        "Tab after the skip link did not move into main")


def _seconds(value: str) -> float:
    longest = 0.0
    for part in value.split(","):
        match = _DURATION.match(part)
        if match:
            number = float(match.group(1))
            longest = max(longest, number / 1000 if match.group(2) == "ms" else number)
    return longest


@pytest.mark.parametrize("name", ["landing", "clinic-search", "clinic-results", "clinic"])
def test_reduced_motion_is_respected(tabs: Callable[..., Tab], live_server: LiveServer,
                                     name: str) -> None:
    """With prefers-reduced-motion: reduce nothing moves: no element or
    pseudo-element has a transition or animation longer than 0.01 s, and
    nothing scrolls smoothly."""
    tab = tabs("nb", "desktop", reduced_motion="reduce")
    _open(tab, live_server, name)
    assert tab.page.evaluate("matchMedia('(prefers-reduced-motion: reduce)').matches")
    styles = tab.page.evaluate("""() => {
        const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
            + (typeof el.className === 'string' && el.className.trim()
               ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
        const out = [];
        for (const el of document.querySelectorAll('*')) {
            for (const pseudo of [null, '::before', '::after']) {
                const s = getComputedStyle(el, pseudo);
                if (pseudo && (s.content === 'none' || s.content === 'normal')) continue;
                out.push({what: describe(el) + (pseudo || ''),
                          transition: s.transitionDuration,
                          transitionProperty: s.transitionProperty,
                          animation: s.animationName === 'none' ? '0s' : s.animationDuration,
                          scroll: s.scrollBehavior});
            }
        }
        return out;
    }""")
    moving = sorted({
        f"{s['what']}: transition {s['transitionProperty']} {s['transition']}, "
        f"animation {s['animation']}, scroll-behavior {s['scroll']}"
        for s in styles
        if _seconds(s["transition"]) > MOTION_LIMIT_S or _seconds(s["animation"]) > MOTION_LIMIT_S
        or s["scroll"] == "smooth"
    })
    assert not moving, ("moves despite prefers-reduced-motion: reduce:\n  "
                        + "\n  ".join(moving))


def test_the_axe_run_reports_a_planted_violation(tabs: Callable[..., Tab],
                                                 live_server: LiveServer,
                                                 axe_source: str) -> None:
    """The harness itself: axe runs on the real page and its findings reach us."""
    tab = tabs("nb", "desktop")
    _open(tab, live_server, "landing")
    tab.page.evaluate("""() => {
        const img = document.createElement('img');
        img.src = '/static/none.png';
        document.querySelector('main').append(img);
        const low = document.createElement('p');
        low.textContent = 'grey on white';
        low.style.color = '#eee';  // CSSOM: allowed by the CSP, unlike style=
        document.querySelector('main').append(low);
    }""")
    violations = check_axe(tab.page, axe_source)
    found = {v["id"] for v in violations}
    assert {"image-alt", "color-contrast"} <= found, describe_violations(violations)
    report = describe_violations(violations, "/")
    assert "image-alt [critical]" in report and '<img src="/static/none.png">' in report, report
