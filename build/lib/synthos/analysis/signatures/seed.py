"""Seeding and growing the library: signatures of known cases with their outcomes.

`seed_library` takes cases (a candidate, an optional reference, and what is known to be
wrong with the candidate: a defect family and strength, or "clean"), fingerprints each and
stores it with its outcome. Where the cases come from is the caller's business:
`synthos signatures seed` builds them from bundled real data with
`synthos.analysis.signatures.patterns`; the benchmark feeds it the collapse suite's cases.

A family's collapse type is what the detector's verdict rules
(`synthos.analysis.collapse.verdict`) call the failure of the dimensions the family breaks:
copies are memorization, clipped tails tail_loss, lost spread or modes diversity_loss,
recursive resampling of tables and text mode_collapse (diversity and tails lost together),
lost structure along time structure_loss, moved marginals distribution_shift, broken
dependence correlation_loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .fingerprint import FingerprintConfig, fingerprint
from .store import LibrarySnapshot, Outcome, Signature, SignatureLibrary

CLEAN = "clean"
FAMILY_TYPES: dict[str, str] = {
    "exact_duplicates": "memorization",
    "near_duplicates": "memorization",
    "memorized_copies": "memorization",
    "tail_truncation": "tail_loss",
    "variance_shrinkage": "diversity_loss",
    "mode_collapse": "diversity_loss",
    "repetition": "diversity_loss",
    "recursive_resampling": "mode_collapse",
    "smoothing": "structure_loss",
    "periodicity_loss": "structure_loss",
    "mean_shift": "distribution_shift",
    "scale_shift": "distribution_shift",
    "correlation_breaking": "correlation_loss",
    "label_noise": "correlation_loss",
}
#: Families defined relative to a reference that leave the dataset alone looking like
#: clean data (a shift or a rescaling of every value, rows copied from the reference): their
#: signatures say nothing to a screen without a reference (see `index`).
REFERENCE_ONLY = frozenset({"memorized_copies", "mean_shift", "scale_shift", "variance_shrinkage"})
#: Seeding adds signatures in batches of this many (one library write each).
BATCH = 64


def collapse_type_of(family: str, modality: str) -> str | None:
    """The collapse type of a defect family (None for clean data)."""
    if family == CLEAN:
        return None
    if family == "recursive_resampling" and modality == "time_series":
        return "structure_loss"
    return FAMILY_TYPES.get(family, family)


@dataclass(frozen=True)
class SeedCase:
    """A dataset of known condition: `family` is "clean" or the defect it carries."""

    name: str
    candidate: Any
    family: str
    strength: int = 0
    reference: Any = None
    modality: str | None = None
    base: str | None = None


def seed_signature(
    case: SeedCase, config: FingerprintConfig | None = None, source: str = "seed"
) -> Signature:
    """The signature of one case, its outcome set from what is known about it."""
    found = fingerprint(case.candidate, case.reference, modality=case.modality, config=config)
    found.dataset["path"] = case.name
    outcome = Outcome(
        collapse_detected=case.family != CLEAN,
        collapse_type=collapse_type_of(case.family, found.modality),
        label={
            "family": case.family,
            "strength": case.strength,
            "base": case.base,
            "seen_without_reference": case.family not in REFERENCE_ONLY,
        },
    )
    return Signature.new(found, outcome, source)


def seed_library(
    library: SignatureLibrary,
    cases: Iterable[SeedCase],
    *,
    config: FingerprintConfig | None = None,
    source: str = "seed",
    progress: Callable[[int, SeedCase], None] | None = None,
) -> LibrarySnapshot:
    """Fingerprint every case and add it to `library` (BATCH signatures per write)."""
    batch: list[Signature] = []
    snapshot = library.read()
    for count, case in enumerate(cases, start=1):
        batch.append(seed_signature(case, config, source))
        if progress is not None:
            progress(count, case)
        if len(batch) >= BATCH:
            snapshot = library.add(batch)
            batch = []
    if batch:
        snapshot = library.add(batch)
    return snapshot


def families(snapshot: LibrarySnapshot) -> dict[str, int]:
    """Signatures per seeded family (validations count under their source)."""
    counts: dict[str, int] = {}
    for record in snapshot.records:
        label = record["outcome"].get("label") or {}
        key = label.get("family") or record["provenance"].get("source", "unknown")
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
