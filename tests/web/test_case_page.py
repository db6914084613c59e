"""The case page in headless Debian chromium on a live ``hipdx serve``: what a person sees.

Three cases (a typical GTPS, a red-flag case, a thin case) are answered through the form; each
test checks the triage banner (level and words), the order of the condition bars against the
model itself, the "why" of a condition and that a next-question button focuses its question.
A screenshot of each case is saved under the test's output folder (``HIPDX_TEST_OUTPUT`` when
set, else pytest's ``tmp_path``).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path

import pytest

from model.priors import bundled_sources


@pytest.fixture
def out_dir(request, tmp_path) -> Path:
    base = os.environ.get("HIPDX_TEST_OUTPUT")
    folder = Path(base) / request.node.name if base else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _settled(page) -> None:
    page.locator("body[aria-busy=false]").wait_for(state="attached")  # a selector: the page's CSP forbids eval


def open_case(page, base: str, evidence: dict | None = None) -> None:
    query = f"?evidence={urllib.parse.quote(json.dumps(evidence))}" if evidence else ""
    with page.expect_response(lambda r: r.url.endswith("/v1/diagnosis")):
        page.goto(f"{base}/case{query}")
    _settled(page)


def answer(page, variable: str, state: str) -> None:
    """Click the labelled radio of one answer, as a person would, and wait for the new result."""
    with page.expect_response(lambda r: r.url.endswith("/v1/diagnosis")):
        page.get_by_role("group", name=_question(page, variable)).get_by_label(state, exact=True).check()
    _settled(page)


def type_number(page, variable: str, value: str) -> None:
    with page.expect_response(lambda r: r.url.endswith("/v1/diagnosis")):
        page.fill(f"#q-{variable}-number", value)
    _settled(page)


def _question(page, variable: str) -> str:
    return page.locator(f"#q-{variable} legend").inner_text()


def bar_order(page) -> list[str]:
    return page.locator("#conditions > li").evaluate_all("els => els.map(e => e.dataset.condition)")


def expected_order(model, evidence) -> list[str]:
    return [c.id for c in model.diagnose(evidence).conditions]


def banner(page) -> tuple[str, str]:
    box = page.locator("#triage")
    return box.get_attribute("data-level"), box.inner_text()


def check_next_question_focuses(page) -> str:
    first = page.locator("#next button.jump").first
    variable = first.get_attribute("data-variable")
    first.click()
    focused = page.evaluate("document.activeElement.closest('.question')?.id")
    assert focused == f"q-{variable}"
    assert page.evaluate("document.activeElement.tagName") == "INPUT"
    return variable


def test_typical_gtps_case(live_server, browser_page, model, out_dir):
    page = browser_page
    open_case(page, live_server)
    assert banner(page)[0] == (model.diagnose({}).triage.level or "none")  # "none" (not rated) once triage says so
    type_number(page, "age_band", "45")
    answer(page, "sex", "female")
    answer(page, "pain_lateral_hip", "present")
    answer(page, "pain_lying_on_side", "present")
    evidence = {"age": 45, "sex": "female", "pain_lateral_hip": "present", "pain_lying_on_side": "present"}
    diagnosis = model.diagnose(evidence)

    level, text = banner(page)
    assert level == diagnosis.triage.level == "see_clinician"
    assert "SEE A CLINICIAN" in text
    assert page.locator("#triage").get_attribute("role") == "alert"
    order = bar_order(page)
    assert order == expected_order(model, evidence) and order[0] == "gtps"
    gtps = page.locator('#conditions > li[data-condition="gtps"]')
    assert gtps.locator(".num").first.inner_text().startswith(f"{100 * diagnosis.probability('gtps'):.0f}%")

    # why: the answers that moved it, by how much, with the quoted source by its title
    why = page.locator("#why-gtps")
    assert why.is_hidden()
    gtps.get_by_role("button").first.click()
    assert why.is_visible() and gtps.get_by_role("button").first.get_attribute("aria-expanded") == "true"
    row = why.locator("tr", has_text="outside of the hip")
    assert "+" in row.inner_text() and "points" in row.inner_text()
    assert bundled_sources()["002_3cff6c4d9534aba2.txt"].title in row.inner_text()
    assert "Pain is usually felt on the outside of the hip" in row.inner_text()
    assert "answer: 40–49" in why.locator("tr", has_text="How old").inner_text()

    # the link reopens the same case
    url = page.url
    assert "evidence=" in url and json.loads(urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["evidence"][0]) == evidence
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(out_dir / "gtps.png"), full_page=False)
    check_next_question_focuses(page)
    page.screenshot(path=str(out_dir / "gtps_next_question.png"), full_page=False)
    assert page.locator("#disclaimer").inner_text().startswith("Not a diagnosis.")
    assert model.version in page.locator("#model-version").inner_text()


def test_red_flag_case(live_server, browser_page, model, out_dir):
    page = browser_page
    open_case(page, live_server, {"age": 52, "sex": "female", "pain_groin": "present"})
    assert page.locator("#q-pain_groin-present").is_checked()  # the link filled the form
    assert page.locator("#q-age_band-number").input_value() == "52"
    answer(page, "cannot_bear_weight", "present")
    evidence = {"age": 52, "sex": "female", "pain_groin": "present", "cannot_bear_weight": "present"}
    level, text = banner(page)
    assert level == model.diagnose(evidence).triage.level == "emergency"
    assert "EMERGENCY" in text and "Cannot put weight on the leg" in text
    assert bundled_sources()["001_836542559a107186.txt"].title in text  # the red flag's source by title
    assert page.locator('#triage li[data-flag="cannot_bear_weight"]').is_visible()
    assert bar_order(page) == expected_order(model, evidence)
    # the banner is the first thing in the result, above every bar
    top = page.locator("#triage").bounding_box()["y"]
    assert top < page.locator("#conditions > li").first.bounding_box()["y"]
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(out_dir / "red_flag.png"), full_page=False)

    # an answer the model cannot read is named, and the red flag still shows
    open_case(page, live_server, {"cannot_bear_weight": "present", "pain_groin": "sometimes"})
    assert banner(page)[0] == "emergency"
    error = page.locator("#error")
    assert error.is_visible() and "pain_groin" in error.inner_text() and "sometimes" in error.inner_text()


def test_thin_case(live_server, browser_page, model, out_dir):
    page = browser_page
    open_case(page, live_server)
    type_number(page, "age_band", "30")
    evidence = {"age": 30}
    diagnosis = model.diagnose(evidence)
    level, text = banner(page)
    assert level == diagnosis.triage.level
    assert text.strip()
    assert bar_order(page) == expected_order(model, evidence)
    buttons = page.locator("#next button.jump")
    assert buttons.count() == len(diagnosis.next_questions) > 0
    assert buttons.first.inner_text() == diagnosis.next_questions[0]["question"]
    page.screenshot(path=str(out_dir / "thin.png"), full_page=False)
    variable = check_next_question_focuses(page)
    # answering the focused question from the keyboard updates the result (arrow keys move within a
    # radio group: from "not asked", the last, to the first state; a number is typed)
    with page.expect_response(lambda r: r.url.endswith("/v1/diagnosis")):
        if page.evaluate("document.activeElement.type") == "number":
            page.keyboard.type("3")
        else:
            page.keyboard.press("ArrowRight")
    _settled(page)
    assert variable in json.loads(urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["evidence"][0])


def test_every_control_has_a_label(live_server, browser_page):
    page = browser_page
    open_case(page, live_server)
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.name)""")
    assert unlabelled == []
    groups = page.locator("fieldset.question")
    assert groups.count() > 30
    assert page.evaluate("[...document.querySelectorAll('fieldset.question')].every(f => f.querySelector('legend').textContent.trim())")


def test_keys_other_issues_add_are_shown_when_present(live_server, browser_page, model, out_dir):
    """triage.reasons / provisional / open_questions, a null level, outside_population and
    explanations: the page shows them as soon as the API sends them (here the API's own body for
    a case, with those keys added, is served to the page)."""
    evidence = {"age": 45, "sex": "female", "pain_lateral_hip": "present"}
    body = json.loads(json.dumps(model.diagnose(evidence).to_dict()))
    body["triage"].update({"level": "urgent", "provisional": True, "open_questions": ["cannot_bear_weight", "fever"],
                           "reasons": [{"rule": "r1", "reason": "A reason from the triage rules",
                                        "source": "002_3cff6c4d9534aba2.txt", "title": "Causes of hip pain in runners"}]})
    body["outside_population"] = {"reason": "younger than the adult population the model describes"}
    body["explanations"] = [{"present": ["gtps"], "probability": 0.58}, {"present": ["gtps", "muscle_strain"], "probability": 0.2},
                            {"present": [], "probability": 0.05}]
    page = browser_page
    page.route("**/v1/diagnosis", lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(body)))
    open_case(page, live_server, evidence)
    level, text = banner(page)
    assert level == "urgent" and "URGENT" in text and "(provisional)" in text
    assert "A reason from the triage rules" in text and "Causes of hip pain in runners" in text
    assert "younger than the adult population" in page.locator("#outside").inner_text()
    items = page.locator("#explanations li").all_inner_texts()
    assert items[0].startswith("58%") and "Greater trochanteric pain syndrome" in items[0]
    assert "none of the conditions in the model" in items[2]
    page.locator('#triage button.jump[data-variable="fever"]').click()
    assert page.evaluate("document.activeElement.closest('.question')?.id") == "q-fever"

    # nothing answered: a null level reads "not rated"
    body["triage"] = {"level": None, "red_flags": [], "reasons": [], "provisional": True, "open_questions": []}
    body["summary"]["triage_label"] = "Not rated: no answers yet"
    with page.expect_response(lambda r: r.url.endswith("/v1/diagnosis")):
        page.get_by_role("button", name="Clear all answers").click()
    _settled(page)
    level, text = banner(page)
    assert level == "none" and "NOT RATED" in text
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(out_dir / "added_keys.png"), full_page=False)


def test_a_server_with_api_keys_asks_for_one(browser_page, model):
    """With HIPDX_API_KEYS set, /v1/* needs a key: the page says so, asks for it, then works."""
    from tests.browser import live_server

    page = browser_page
    with live_server(env={"HIPDX_API_KEYS": "page-key-1"}) as base:
        page.goto(f"{base}/case")
        error = page.locator("#error")
        error.wait_for(state="visible")
        assert "API key" in error.inner_text()
        page.get_by_label("This server needs an API key:").fill("page-key-1")
        with page.expect_response(lambda r: r.url.endswith("/v1/diagnosis")):
            page.get_by_role("button", name="Use key").click()
        _settled(page)
        assert error.is_hidden() and page.locator("#conditions > li").count() == len(model.conditions)
