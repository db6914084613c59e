"""Property test: whatever QuestionnaireResponse-shaped JSON arrives, the FHIR and CDS routes answer
without a 5xx, and a red flag among otherwise readable answers is never lost."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import CDS_URL, cds_request, qr

LINK_IDS = ["age", "sex", "fever", "cannot_bear_weight", "weekly_training_hours", "onset", "pain_groin", "age_band",
            "unknown_item", ""]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                    st.floats(allow_nan=False), st.text(max_size=8))
VALUE_KEYS = ["valueBoolean", "valueInteger", "valueDecimal", "valueString", "valueCoding", "valueQuantity", "valueDate"]
CODING = st.fixed_dictionaries({}, optional={"system": st.sampled_from(["http://loinc.org", "http://snomed.info/sct",
                                                                         "http://hl7.org/fhir/administrative-gender", "x"]),
                                             "code": st.one_of(st.sampled_from(["LA33-6", "female", "other", "present"]),
                                                               SCALARS)})
QUANTITY = st.fixed_dictionaries({}, optional={"value": SCALARS, "code": st.sampled_from(["h", "a", "mo", "kg", "h/wk"]),
                                               "unit": st.text(max_size=6), "comparator": st.sampled_from([">", "<"])})
ANSWER = st.dictionaries(st.sampled_from(VALUE_KEYS), st.one_of(SCALARS, CODING, QUANTITY), max_size=2)
ITEMS = st.lists(st.fixed_dictionaries({"linkId": st.one_of(st.sampled_from(LINK_IDS), SCALARS)},
                                       optional={"answer": st.one_of(st.lists(ANSWER, max_size=3), SCALARS),
                                                 "item": st.just([{"linkId": "fever", "answer": [{"valueBoolean": True}]}])}),
                 max_size=6)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(items=ITEMS, status=st.sampled_from(["completed", "in-progress", "stopped", "amended", 3]))
def test_any_response_no_5xx(client, items, status):
    response = qr({}, status=status)
    response["item"] = items + [{"linkId": "cannot_bear_weight", "answer": [{"valueBoolean": True}]}]
    for url, body in ((CDS_URL, cds_request(response)), ("/fhir/RiskAssessment/$assess", response),
                      ("/fhir/Questionnaire/hipdx/$next-question", response)):
        resp = client.post(url, json=body)
        assert resp.status_code < 500, resp.get_data(as_text=True)
        if url == CDS_URL and resp.status_code == 200:
            cards = resp.get_json()["cards"]
            assert any(c["summary"].startswith("Red flag (emergency)") for c in cards)
        elif url == CDS_URL and resp.status_code == 400:
            got = resp.get_json()
            if "red_flags_answered" in got:
                assert "cannot_bear_weight" in [f["id"] for f in got["red_flags_answered"]]
