"""Learning from validations: each finished validation adds its signature and outcome.

`record_validation` screens the validated dataset against the library (its
`signature_matches` for report.json, found before the dataset joins the library, so it
never matches itself) and then adds its signature with the outcome read from the
validation's report (`outcome_from_report`). `synthos detect`, the cascade's aggregation
and `synthos signatures add` call it; the first two only when a library is configured
(``--signatures PATH`` or the SYNTHOS_SIGNATURE_LIBRARY environment variable).
"""

from __future__ import annotations

import os
from typing import Any

from .fingerprint import FingerprintConfig, fingerprint
from .index import LibraryIndex
from .prescreen import PreScreenConfig, screen
from .store import Outcome, Signature, SignatureLibrary

LIBRARY_ENV = "SYNTHOS_SIGNATURE_LIBRARY"
_PREDICTION_KEYS = (
    "metric",
    "predicted",
    "lower",
    "upper",
    "level",
    "target_params",
    "target_tokens",
)


def configured_library(path: str | os.PathLike | None = None) -> SignatureLibrary | None:
    """The library at `path`, else at $SYNTHOS_SIGNATURE_LIBRARY, else None."""
    chosen = path or os.environ.get(LIBRARY_ENV)
    return SignatureLibrary(chosen) if chosen else None


def outcome_from_report(report: dict[str, Any]) -> Outcome:
    """A validation's outcome from its report.json fields (DESIGN section 9)."""
    prediction = report.get("prediction")
    return Outcome(
        collapse_detected=report.get("collapse_detected"),
        collapse_type=report.get("collapse_type"),
        risk_score=report.get("risk_score"),
        severity=report.get("severity"),
        dimension_scores={d["name"]: d.get("score") for d in report.get("dimensions") or []},
        prediction={k: prediction.get(k) for k in _PREDICTION_KEYS} if prediction else None,
        label={"validation_id": report.get("validation_id")},
    )


def record_validation(
    library: SignatureLibrary,
    candidate: Any,
    reference: Any,
    report: dict[str, Any],
    *,
    modality: str | None = None,
    source: str = "validation",
    config: FingerprintConfig | None = None,
) -> dict[str, Any]:
    """Screen `candidate` against `library`, then add its signature with the outcome in
    `report`. Returns the report fields it fills (``signature_matches``) and the new
    signature's id and pre-risk."""
    found = fingerprint(candidate, reference, modality=modality, config=config)
    screened = screen(found, LibraryIndex(library), PreScreenConfig())
    signature = Signature.new(found, outcome_from_report(report), source)
    library.add([signature])
    return {
        "signature_matches": screened.signature_matches(),
        "signature_id": signature.signature_id,
        "pre_risk": screened.pre_risk,
    }
