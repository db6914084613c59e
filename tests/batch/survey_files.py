"""Small survey files in the forms analysts receive, written by the tests (pandas, pyreadstat, openpyxl).

Every file holds the same twelve runners (:data:`ANSWERS`), so each test can compare its
posteriors with the clean, variable-named CSV's.
"""

from __future__ import annotations

import json

import pandas as pd

# Twelve runners; rows 2 and 7 have red flags (fever; cannot bear weight).
ANSWERS = pd.DataFrame({
    "age": ["34", "52", "41", "28", "63", "45", "19", "38", "57", "30", "47", "25"],
    "sex": ["female", "male", "female", "male", "female", "female", "male", "female", "male", "female", "male", "female"],
    "weekly_training_hours": ["5.5", "14.5", "8", "3.25", "10", "16", "7.5", "6", "12", "9.5", "4", "11"],
    "pain_lateral_hip": ["present", "absent", "absent", "present", "", "present", "absent", "absent", "present", "", "absent", "present"],
    "pain_groin": ["absent", "present", "present", "", "present", "absent", "present", "absent", "", "present", "absent", "absent"],
    "night_pain": ["present", "", "absent", "absent", "present", "", "absent", "present", "absent", "absent", "", "absent"],
    "fever": ["absent", "absent", "present", "absent", "absent", "absent", "absent", "", "absent", "absent", "absent", "absent"],
    "cannot_bear_weight": ["absent", "absent", "absent", "absent", "", "absent", "absent", "present", "absent", "absent", "absent", "absent"],
})
RED_FLAG_ROWS = (2, 7)

# The same answers as a survey platform asks them.
QUESTIONS = {
    "age": "How old are you (years)?", "sex": "Gender", "weekly_training_hours": "Hours of training per week",
    "pain_lateral_hip": "Pain on the outside of the hip?", "pain_groin": "Pain in the groin?",
    "night_pain": "Does it hurt at night?", "fever": "Fever?", "cannot_bear_weight": "Can you put weight on the leg?",
}
LABELS = {
    "sex": {"female": "Woman", "male": "Man"},
    "pain_lateral_hip": {"present": "Yes", "absent": "No"}, "pain_groin": {"present": "Yes", "absent": "No"},
    "night_pain": {"present": "Yes", "absent": "No"}, "fever": {"present": "Yes", "absent": "No"},
    "cannot_bear_weight": {"present": "No", "absent": "Yes"},  # asked the other way round
}
MAPPING = """\
columns:
  "How old are you (years)?": {variable: age}
  "Gender": {variable: sex, values: {Woman: female, Man: male}}
  "Hours of training per week": {variable: weekly_training_hours}
  "Pain on the outside of the hip?": {variable: pain_lateral_hip, values: {Yes: present, No: absent}}
  "Pain in the groin?": {variable: pain_groin, values: {Yes: present, No: absent}}
  "Does it hurt at night?": {variable: night_pain, values: {Yes: present, No: absent}}
  "Fever?": {variable: fever, values: {Yes: present, No: absent}}
  "Can you put weight on the leg?": {variable: cannot_bear_weight, values: {Yes: absent, No: present}}
"""


def labelled() -> pd.DataFrame:
    """:data:`ANSWERS` with the survey's questions as headers and its labels as answers."""
    out = pd.DataFrame(index=ANSWERS.index)
    for var, question in QUESTIONS.items():
        labels = LABELS.get(var, {})
        out[question] = [labels.get(v, v) for v in ANSWERS[var]]
    return out


def qualtrics_csv(path, frame: pd.DataFrame) -> None:
    """A Qualtrics export: ids, question text, then an ImportId JSON row, then the data."""
    ids = [f"Q{i + 1}" for i in range(frame.shape[1])]
    texts = list(frame.columns)
    imports = [json.dumps({"ImportId": f"QID{i + 1}"}) for i in range(frame.shape[1])]
    body = frame.copy()
    body.columns = ids
    head = pd.DataFrame([texts, imports], columns=ids)
    pd.concat([head, body], ignore_index=True).to_csv(path, index=False)


def qualtrics_mapping() -> str:
    """:data:`MAPPING` with Qualtrics' column ids in place of the question texts."""
    text = MAPPING
    for i, question in enumerate(QUESTIONS.values()):
        text = text.replace(f'"{question}"', f'"Q{i + 1}"')
    return text
