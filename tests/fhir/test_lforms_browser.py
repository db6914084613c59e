"""A real renderer fills the hipdx Questionnaire: NLM LHC-Forms (npm ``lforms``) in headless Debian
chromium renders ``GET /fhir/Questionnaire/hipdx`` from a live ``hipdx serve``; the test answers a few
items as a user would, takes the QuestionnaireResponse LHC-Forms produces, posts it to the CDS service,
and checks the cards against a direct diagnosis of the same answers. Everything runs offline."""

from __future__ import annotations

import json
import urllib.request

import pytest

from service.fhir import cds

from .conftest import cds_request, validate
from .lforms_page import ORIGIN, lforms_installed, serve

pytestmark = pytest.mark.skipif(not lforms_installed(), reason="node_modules/lforms missing: run `make test` (npm ci)")


def _fetch(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, json.loads(resp.read())


def _choose_yes_no(page, link_id: str, label: str) -> None:
    page.locator(f"label:has(input[name='radiogroup_{link_id}/1/1'])", has_text=label).first.click()


def test_lhc_forms_fills_the_questionnaire_and_cds_agrees(live_server, browser_page, model, tmp_path):
    status, questionnaire = _fetch(f"{live_server}/fhir/Questionnaire/hipdx")
    assert status == 200
    page = browser_page
    missing: list[str] = []
    serve(page, missing)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("() => !!(window.LForms && LForms.Util && LForms.Util.addFormToPage && LForms.FHIR)")
    page.evaluate("q => LForms.Util.addFormToPage(q, 'formContainer', {})", questionnaire)
    page.wait_for_selector("[id='age/1/1']")
    # Every question of the model is on the page.
    assert page.locator("lhc-item").count() >= len(model.variables)

    # Answer as a user would: type the age, pick the sex from the list, click Yes/No.
    page.locator("[id='age/1/1']").fill("34")
    page.locator("[id='weekly_training_hours/1/1']").fill("15")
    sex = page.locator("[id='sex/1/1']")
    sex.click()  # LHC-Forms lists a short answer list on focus
    page.locator("#completionOptions li", has_text="Female").first.click()
    _choose_yes_no(page, "pain_groin", "Yes")
    _choose_yes_no(page, "night_pain", "Yes")
    _choose_yes_no(page, "cannot_bear_weight", "No")
    page.screenshot(path=str(tmp_path / "lforms.png"), full_page=True)

    qr = page.evaluate("() => LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', "
                       "document.getElementById('formContainer'))")
    assert not errors, errors
    assert not missing, missing  # nothing fetched from anywhere but the local package
    validate(qr)
    answers = {}

    def walk(items):
        for it in items or []:
            for a in it.get("answer") or []:
                answers[it["linkId"]] = a
            walk(it.get("item"))

    walk(qr.get("item"))
    assert set(answers) == {"age", "weekly_training_hours", "sex", "pain_groin", "night_pain", "cannot_bear_weight"}

    qr["subject"] = {"reference": "Patient/123"}  # an EHR stores the response against its patient
    status, body = _fetch(f"{live_server}/cds-services/{cds.SERVICE_ID}", cds_request(qr))
    assert status == 200
    evidence = {"age": 34, "weekly_training_hours": 15, "sex": "female", "pain_groin": "present", "night_pain": "present",
                "cannot_bear_weight": "absent"}
    d = model.diagnose(evidence).to_dict()
    triage = body["cards"][0]
    assert triage["summary"].startswith(f"Triage: {cds.LEVEL_TEXT[d['triage']['level']]}")
    ra = triage["suggestions"][0]["actions"][0]["resource"]
    validate(ra)
    got = {p["outcome"]["coding"][0]["code"]: p["probabilityDecimal"] for p in ra["prediction"]}
    assert got == pytest.approx({c["id"]: c["probability"] for c in d["conditions"]}, rel=1e-9)
    flags = [c for c in body["cards"] if c["summary"].startswith("Red flag")]
    assert len(flags) == len(d["triage"]["red_flags"])
    assert "Answers that could not be read" not in triage["detail"]
