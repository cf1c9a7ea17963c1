"""Radiology report text: sections, prompts, and de-identification markers.

A MIMIC-CXR report (``s<study>.txt``) is free text with upper-case section headings
(``EXAMINATION:``, ``INDICATION:``, ``COMPARISON:``, ``FINDINGS:``, ``IMPRESSION:``); the
Open-i reports carry the same sections. The prompt that conditions an image generator is
the impression followed by the findings: the impression is the radiologist's summary, so
when a text encoder truncates a long prompt (it keeps the first tokens), the impression
is what survives.

De-identification left markers in the text (``___`` in MIMIC-CXR, ``XXXX`` in Open-i,
``[** ... **]`` in older MIMIC notes). They are traces a generator can memorise
("The Devil is in the Prompts", 2025), so :func:`strip_deid_markers` removes them when a
config asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from synth.data.images.labels import CHEXPERT_FINDINGS, NO_FINDING, POSITIVE, UNCERTAIN, column_name

_HEADING = re.compile(r"(?m)^[ \t]*([A-Z][A-Z /&()-]{2,40}):")
_DEID = re.compile(r"\[\*\*.*?\*\*\]|_{2,}|\bX{3,}\b")
_SPACES = re.compile(r"\s+")


def report_sections(text: str) -> dict[str, str]:
    """Split a report into ``{HEADING: text}`` (headings upper case, text whitespace-normalised).

    Text before the first heading goes under ``""``; a heading that repeats keeps the last.
    """
    sections: dict[str, str] = {}
    matches = list(_HEADING.finditer(text))
    starts = [m.start() for m in matches] + [len(text)]
    if not matches or matches[0].start() > 0:
        sections[""] = _clean(text[: matches[0].start() if matches else len(text)])
    for m, end in zip(matches, starts[1:]):
        sections[m.group(1).strip()] = _clean(text[m.end():end])
    return sections


def prompt_from_report(text: str) -> str | None:
    """The impression, then the findings, as one line; None when the report has neither."""
    sections = report_sections(text)
    parts = [sections.get("IMPRESSION", ""), sections.get("FINDINGS", "")]
    prompt = " ".join(p for p in parts if p)
    return prompt or None


def prompt_from_labels(labels: Mapping[str, object]) -> str:
    """A short report-style prompt from finding labels (keys: snake-case columns or finding names).

    Positive findings are named, uncertain ones prefixed with "possible"; with none
    positive or uncertain the prompt says there is no acute process. Order: CheXpert's.
    """
    by_column = {column_name(str(k)): v for k, v in labels.items()}
    named, possible = [], []
    for finding in CHEXPERT_FINDINGS:
        if finding == NO_FINDING:
            continue
        value = _label_value(by_column.get(column_name(finding)))
        if value == POSITIVE:
            named.append(finding.lower())
        elif value == UNCERTAIN:
            possible.append(finding.lower())
    sentences = [s[0].upper() + s[1:] + "." for s in named]
    sentences += [f"Possible {p}." for p in possible]
    return " ".join(sentences) if sentences else "No acute cardiopulmonary process."


def strip_deid_markers(text: str) -> str:
    """Remove de-identification markers (``___``, ``XXXX``, ``[** ... **]``) and tidy the spaces."""
    return _clean(_DEID.sub(" ", text)).replace(" .", ".").replace(" ,", ",")


def has_deid_marker(text: str) -> bool:
    """Does ``text`` carry a de-identification marker?"""
    return bool(_DEID.search(text))


def _label_value(value: object) -> int | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if number != number else int(number)  # NaN: not mentioned


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
