"""Pydantic models of every request and response body; the OpenAPI document is generated from them.

Response models accept (``extra="allow"``) fields they do not know yet, so a field added to
``Diagnosis.to_dict()`` is never lost on the wire; ``tests/service`` fails when that happens, so
the model here (and hence the spec) is updated with it. Optional response fields are omitted
when absent, never sent as null (responses are dumped with ``exclude_none=True``), except the few
that the contract (DESIGN.md section 5) sends as null on purpose: ``triage.level`` (nothing to
triage) and ``outside_population`` (inside the population). Those are listed in ``KEEP_NULL``
and marked ``x-nullable`` in the schema.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, StrictBool, StrictFloat, StrictInt, StrictStr, model_serializer

TriageLevel = Literal["emergency", "urgent", "see_clinician", "self_care"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


NULLABLE = {"x-nullable": True}  # schema marker: null is a meaningful value here (kept by the OpenAPI builder)


class _KeepNull(_Response):
    """A response whose ``KEEP_NULL`` fields are sent as null when None, even with ``exclude_none``."""

    KEEP_NULL: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _keep_null(self, handler: SerializerFunctionWrapHandler):  # noqa: ANN202 - no return type: keeps the schema
        out = handler(self)
        if all(name in out for name in self.KEEP_NULL):
            return out
        order = list(type(self).model_fields) + [k for k in out if k not in type(self).model_fields]
        return {k: out.get(k) for k in order if k in out or k in self.KEEP_NULL}


# ---------------------------------------------------------------------------- JSON API
EvidenceValue = StrictStr | StrictInt | StrictFloat | StrictBool | None


class DiagnosisRequest(_Request):
    """What is known about one runner. Unanswered variables are simply left out (or null / "unknown")."""

    evidence: dict[str, EvidenceValue] = Field(
        description="variable id (or alias: age, rest_days_per_week, weekly_training_hours) -> state, number or boolean",
        examples=[{"sex": "female", "age": 45, "pain_lateral_hip": "present", "pain_lying_on_side": "present"}],
    )


class ModelInfo(_Response):
    name: str
    version: str = Field(description="hash of the priors: every result names the exact priors it came from")


class Citation(_Response):
    prior: str | None = None
    kind: str | None = Field(None, description="stated | verbal | assumption")
    value: str | None = None
    source: str | None = None
    title: str | None = Field(None, description="the cited article's title (priors/sources.yaml)")
    quote: str | None = None
    reason: str | None = None


class EvidenceEffect(_Response):
    variable: str
    state: str
    effect: float = Field(description="posterior with all answers minus posterior without this one")
    likelihood_ratio: float | None = None
    link: str | None = Field(None, description="direct | indirect")
    sources: list[Citation] | None = None


class ConditionResult(_Response):
    id: str
    name: str
    probability: float
    prior: float
    interval: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    evidence: list[EvidenceEffect] | None = None


class RedFlag(_Response):
    id: str
    level: TriageLevel | None = None
    reason: str
    source: str | None = None
    title: str | None = Field(None, description="the cited article's title (priors/sources.yaml)")
    quote: str | None = None


class TriageReason(_Response):
    rule: str = Field(description="the rule that fired: a red-flag id, outside_population, likely_injury, "
                                  "no_rule_fired, no_answers or not_scored")
    level: TriageLevel | None = Field(None, description="the level this rule asks for")
    reason: str
    source: str = Field(description="source document, or the priors entry that states the rule")
    title: str | None = Field(None, description="the cited article's title (priors/sources.yaml)")


class Triage(_KeepNull):
    KEEP_NULL: ClassVar[tuple[str, ...]] = ("level",)
    level: TriageLevel | None = Field(description="null when nothing was answered (or nothing readable and no red "
                                                  "flag): no triage, only the open questions", json_schema_extra=NULLABLE)
    reasons: list[TriageReason] = Field(description="every rule that fired, most severe first: the first set the level")
    red_flags: list[RedFlag]
    provisional: bool = Field(description="true when an unanswered screening question could still raise the level")
    open_questions: list[str] = Field(description="variable ids of those screening questions, most severe rule first")


class OutsidePopulation(_Response):
    reason: str
    rule: str | None = None
    source: str | None = None
    title: str | None = Field(None, description="the cited article's title (priors/sources.yaml)")


class NextQuestion(_Response):
    variable: str
    question: str
    states: list[str] | None = None
    expected_information_gain: float
    priority: float | None = None
    reason: str | None = None


class Reasoning(_Response):
    should_stop: bool | None = None
    top_two_may_swap: bool | None = None
    interval_level: float | None = None
    draws: int | None = None
    top_two: list[str] | None = None
    top_two_swap_fraction: float | None = None


class Explanation(_Response):
    present: list[str] = Field(description="the conditions present in this joint state (all others absent)")
    probability: float = Field(description="posterior probability of exactly this set of conditions")


class SummaryCondition(_Response):
    id: str
    name: str
    probability: float = Field(description="rounded to 2 decimals")
    interval: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None


class SummaryExplanation(_Response):
    present: list[str]
    probability: float = Field(description="rounded to 2 decimals")


class Summary(_KeepNull):
    """The short reading of a diagnosis, first in the body; the detail follows."""

    KEEP_NULL: ClassVar[tuple[str, ...]] = ("triage",)
    triage: TriageLevel | None = Field(description="the triage level (null when nothing was answered)",
                                       json_schema_extra=NULLABLE)
    triage_label: str = Field(description="the level in words")
    reasons: list[str] = Field(description="why: the triage reasons (or the red flags' reasons)")
    red_flags: list[str] = Field(description="ids of the red flags that fired")
    provisional: bool | None = None
    outside_population: str | None = Field(None, description="why the case is outside the model's population")
    explanations: list[SummaryExplanation] | None = Field(None, description="the top joint explanations")
    top_conditions: list[SummaryCondition] = Field(description="the 3 most probable conditions")
    text: str = Field(description="all of the above in one or two sentences")


class DiagnosisResponse(_KeepNull):
    KEEP_NULL: ClassVar[tuple[str, ...]] = ("outside_population",)
    model: ModelInfo
    summary: Summary | None = None
    conditions: list[ConditionResult] = Field(
        description="every condition, most probable first (equal probabilities in the fixed condition order of "
                    "GET /v1/model); probabilities, intervals and effects rounded to 4 decimals "
                    "(likelihood ratios to 4 significant digits; exact values in Python and in hipdx score)")
    triage: Triage
    outside_population: OutsidePopulation | None = Field(
        description="null inside the model's population; else why the case is outside it (then never self care)",
        json_schema_extra=NULLABLE)
    explanations: list[Explanation] | None = Field(
        None, description="the differential: the 5 most probable joint states of the conditions, most probable first")
    next_questions: list[NextQuestion] | None = None
    evidence: dict[str, str] = Field(description="the evidence as understood, after numbers were binned")
    reasoning: Reasoning | None = None
    disclaimer: str


class NumericRange(_Response):
    field: str
    unit: str
    min: float
    max: float
    cut_points: list[float]
    closed: str


class VariableInfo(_Response):
    id: str
    group: str
    question: str
    states: list[str]
    role: str
    numeric: NumericRange | None = None


class ConditionInfo(_Response):
    id: str
    name: str
    prior: float


class AgeRange(_Response):
    min: float
    max: float
    unit: str
    basis: str = Field(description="stated | assumption")
    reason: str


class ModelDescription(_Response):
    model: ModelInfo
    population: str
    population_age_range: AgeRange | None = Field(None, description="the ages the model speaks for (inclusive); a case "
                                                                     "outside is flagged outside_population")
    conditions: list[ConditionInfo]
    variables: list[VariableInfo]
    aliases: dict[str, str]
    disclaimer: str


class Health(_Response):
    status: Literal["ok"]
    model: ModelInfo


class ProblemDetails(_Response):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(description="about:blank or urn:hipdx:problem:<slug>")
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    field: str | None = Field(None, description="the offending evidence field")
    linkId: str | None = Field(None, description="CDS Hooks: the offending QuestionnaireResponse item")
    value: Any | None = None
    allowed: list[str] | None = None
    suggestion: str | None = Field(None, description="closest allowed match")
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    errors: list[dict[str, Any]] | None = None
    red_flags_answered: list[RedFlag] | None = Field(
        None, description="a refused case: the red flags among the answers that could be read (never hidden)")
    triage: Triage | None = Field(None, description="a refused case: the triage its readable red flags and the "
                                                    "population check alone give (level null when none fired)")
    outside_population: OutsidePopulation | None = None
    unreadable_answers: list[dict[str, Any]] | None = Field(
        None, description="a refused case: every answer that could not be read (field, code, message)")


# ---------------------------------------------------------------------------- CDS Hooks
class CdsService(_Response):
    hook: str
    id: str
    title: str | None = None
    description: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class CdsDiscovery(_Response):
    services: list[CdsService]


class CdsContext(BaseModel):
    model_config = ConfigDict(extra="allow")
    userId: StrictStr | None = None
    patientId: StrictStr = Field(min_length=1)
    encounterId: StrictStr | None = None


class CdsRequest(BaseModel):
    """A CDS Hooks call. The runner's answers come in ``prefetch.questionnaireResponse``: a FHIR
    QuestionnaireResponse (or a search Bundle whose first entry is one)."""

    model_config = ConfigDict(extra="allow")
    hook: StrictStr
    hookInstance: StrictStr = Field(min_length=1)
    fhirServer: StrictStr | None = None
    fhirAuthorization: dict[str, Any] | None = None
    context: CdsContext
    prefetch: dict[str, dict[str, Any] | None] | None = None


class Coding(_Response):
    system: str | None = None
    code: str
    display: str | None = None


class QuestionnaireAnswer(BaseModel):
    """One answer: a state (valueCoding.code or valueString), a boolean (present/absent, yes/no) or a
    number (valueInteger / valueDecimal for age, rest days, hours)."""

    model_config = ConfigDict(extra="allow")
    valueCoding: Coding | None = None
    valueString: StrictStr | None = None
    valueBoolean: StrictBool | None = None
    valueInteger: StrictInt | None = None
    valueDecimal: StrictFloat | StrictInt | None = None
    item: list[QuestionnaireItem] | None = None


class QuestionnaireItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    linkId: StrictStr = Field(min_length=1, description="a hipdx variable id or alias")
    answer: list[QuestionnaireAnswer] | None = Field(None, max_length=1)
    item: list[QuestionnaireItem] | None = None


class Reference(BaseModel):
    model_config = ConfigDict(extra="allow")
    reference: StrictStr | None = None


class QuestionnaireResponse(BaseModel):
    """The FHIR R4 QuestionnaireResponse fields hipdx reads (others are allowed and ignored)."""

    model_config = ConfigDict(extra="allow")
    resourceType: Literal["QuestionnaireResponse"]
    status: StrictStr | None = None
    subject: Reference | None = None
    item: list[QuestionnaireItem] | None = None


class BundleEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    resource: QuestionnaireResponse


class Bundle(BaseModel):
    """A FHIR search Bundle; its first QuestionnaireResponse entry is read."""

    model_config = ConfigDict(extra="allow")
    resourceType: Literal["Bundle"]
    entry: list[BundleEntry] | None = None


class CdsPrefetch(BaseModel):
    model_config = ConfigDict(extra="allow")
    questionnaireResponse: QuestionnaireResponse | Bundle | None = Field(
        description="required key (412 when absent); null or an empty Bundle = no answers yet, no cards")


class CdsRequestDoc(CdsRequest):
    """A CDS Hooks call (documented shape of ``prefetch``; the service reads it leniently and names
    the offending linkId when an answer is wrong)."""

    model_config = ConfigDict(extra="allow", title="CdsRequest")
    hook: Literal["patient-view"]  # type: ignore[assignment]
    prefetch: CdsPrefetch | None = None  # type: ignore[assignment]


class CardSource(_Response):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: dict[str, Any] | None = None


class CardLink(_Response):
    label: str
    url: str
    type: Literal["absolute", "smart"]


class CardAction(_Response):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = Field(None, description="the FHIR resource to create (a RiskAssessment)")


class CardSuggestion(_Response):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[CardAction] | None = None


class Card(_Response):
    uuid: str
    summary: str = Field(max_length=139)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: CardSource
    suggestions: list[CardSuggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    links: list[CardLink] | None = None


class CdsResponse(_Response):
    cards: list[Card]


class FeedbackStored(_Response):
    stored: int = Field(description="feedback entries stored now")
    duplicates: int = Field(description="entries already stored before (same card, outcome and time)")
