"""FHIR R4 and CDS Hooks 2.0: hipdx as a FHIR-native service.

- :mod:`.terminology`: the hipdx CodeSystem (generated) and the standard codes read;
- :mod:`.units`: units of the numeric questions and ``valueQuantity`` conversion;
- :mod:`.questionnaire`: the Questionnaire (generated from the model's variables);
- :mod:`.response`: reading QuestionnaireResponses as EHRs send them;
- :mod:`.risk_assessment`: a diagnosis as a RiskAssessment;
- :mod:`.adaptive`: SDC ``$next-question``;
- :mod:`.cds`: CDS Hooks discovery and cards; :mod:`.feedback`: the SQLite feedback store;
- :mod:`.body`: JSON bodies with duplicate keys refused; :mod:`.routes`: the Flask blueprint.
"""
