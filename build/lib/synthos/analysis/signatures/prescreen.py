"""The pre-screen: before any training, does this dataset look like ones that collapsed?

The dataset is fingerprinted (on a sample: `fingerprint`), its `k` nearest signatures of
the same modality are found (`index`; in the relative space when a reference is given,
else on what the dataset alone shows) and the pre-risk is their similarity-weighted
collapse rate::

    w_i = exp((s_i - s_1) / temperature) / share(y_i)     s_1: the best similarity
    pre_risk = 100 * sum_i w_i y_i / sum_i w_i            y_i = 1 if signature i collapsed

over the neighbours whose outcome is known, where share(y) is the share of outcome y among
the comparable signatures: a library that holds mostly collapsed (or mostly clean)
signatures would otherwise push every pre-risk toward its own mix, so the pre-risk is the
neighbours' collapse rate as if both outcomes were equally common. `proceed` is
pre_risk < proceed_below. The likely collapse type is the weighted vote of the collapsed
neighbours' types. With no comparable signature (an empty library, none of this modality,
none with a known outcome) the pre-risk is None and `proceed` is True, with the reason:
nothing known speaks against the dataset, and nothing for it.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .fingerprint import Fingerprint, FingerprintConfig, fingerprint
from .index import LibraryIndex, Match
from .store import SignatureLibrary

#: Said with every pre-risk found without a reference: on the collapse suite such a screen
#: separates defects from clean data far less well than one with a reference
#: (benchmarks/RESULTS.md).
WITHOUT_REFERENCE = (
    "; screened without a reference, on what the data alone shows (weaker evidence: "
    "give a reference to compare shifts, spreads and copies)"
)


@dataclass(frozen=True)
class PreScreenConfig:
    """k neighbours, the similarity temperature of their weights, and the pre-risk under
    which the dataset may proceed to the cascade."""

    k: int = 10
    temperature: float = 0.05
    proceed_below: float = 50.0

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")


@dataclass
class PreScreenResult:
    pre_risk: float | None
    proceed: bool
    reason: str
    matches: list[Match]
    collapse_type: str | None
    fingerprint: Fingerprint
    space: str
    library: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pre_risk": None if self.pre_risk is None else round(self.pre_risk, 2),
            "proceed": self.proceed,
            "reason": self.reason,
            "collapse_type": self.collapse_type,
            "space": self.space,
            "matches": [m.to_dict() for m in self.matches],
            "fingerprint": self.fingerprint.to_dict(),
            "library": self.library,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }

    def signature_matches(self) -> list[dict[str, Any]]:
        """The report.json `signature_matches` field."""
        return [m.to_dict() for m in self.matches]

    def summary(self) -> str:
        risk = "n/a" if self.pre_risk is None else f"{self.pre_risk:.0f}/100"
        sample = self.fingerprint.dataset
        lines = [
            f"pre-risk     {risk}  ->  {'proceed' if self.proceed else 'do not proceed'}",
            f"reason       {self.reason}",
            f"fingerprint  {sample['modality']}, {sample['rows']:,} rows"
            + (f" (sampled {sample['sample_rows']:,})" if sample["sampled"] else "")
            + f", {self.space} space, {self.timings.get('fingerprint', 0):.2f} s",
        ]
        for match in self.matches:
            verdict = {True: "collapsed", False: "clean", None: "outcome unknown"}[
                match.collapse_detected
            ]
            kind = f" ({match.collapse_type})" if match.collapse_type else ""
            lines.append(f"  {match.similarity:.3f}  {match.signature_id}  {verdict}{kind}")
        return "\n".join(lines)


def prescreen(
    data: Any,
    reference: Any = None,
    *,
    library: SignatureLibrary | LibraryIndex,
    modality: str | None = None,
    config: PreScreenConfig | None = None,
    fingerprint_config: FingerprintConfig | None = None,
) -> PreScreenResult:
    """Fingerprint `data` (against `reference` when given) and screen it (module doc)."""
    started = time.perf_counter()
    found = fingerprint(data, reference, modality=modality, config=fingerprint_config)
    index = library if isinstance(library, LibraryIndex) else LibraryIndex(library)
    result = screen(found, index, config)
    result.timings = {"fingerprint": found.seconds, "total": time.perf_counter() - started}
    return result


def screen(
    found: Fingerprint, index: LibraryIndex, config: PreScreenConfig | None = None
) -> PreScreenResult:
    """Screen a fingerprint against the library behind `index`."""
    config = config or PreScreenConfig()
    space = "relative" if found.relative is not None else "intrinsic"
    signatures = index.index(found.modality, space)
    snapshot = index.refresh()
    library = {"signatures": len(snapshot), "comparable": len(signatures), "space": space}
    if index.library is not None:
        library["path"] = str(index.library.path)
        library["generation"] = snapshot.generation
    matches = signatures.search(found, config.k)
    known = [m for m in matches if m.collapse_detected is not None]
    if not known:
        reason = (
            f"no {found.modality} signature with a known outcome in the library "
            f"({len(snapshot)} signatures, {len(signatures)} of this modality in the "
            f"{space} space): nothing to compare with"
        )
        return PreScreenResult(None, True, reason, matches, None, found, space, library)
    best = known[0].similarity
    share = signatures.outcome_shares()
    weights = [
        math.exp((m.similarity - best) / config.temperature) / share[bool(m.collapse_detected)]
        for m in known
    ]
    total = sum(weights)
    risk = (
        100.0 * sum(w for w, m in zip(weights, known, strict=True) if m.collapse_detected) / total
    )
    votes: dict[str, float] = defaultdict(float)
    for w, m in zip(weights, known, strict=True):
        if m.collapse_detected:
            votes[m.collapse_type or "unknown"] += w
    likely = max(votes, key=votes.get) if votes else None
    proceed = risk < config.proceed_below
    collapsed = sum(bool(m.collapse_detected) for m in known)
    reason = (
        f"{collapsed} of the {len(known)} closest {found.modality} signatures collapsed "
        f"(similarity {known[-1].similarity:.2f}-{best:.2f}"
        + (f"; most likely type {likely}" if likely else "")
        + f"); pre-risk {risk:.0f} is {'under' if proceed else 'at or over'} "
        f"{config.proceed_below:g}" + (WITHOUT_REFERENCE if space == "intrinsic" else "")
    )
    return PreScreenResult(risk, proceed, reason, matches, likely, found, space, library)
