"""Nearest signatures by cosine similarity, through FAISS.

One index per modality and *space*: ``intrinsic`` (the intrinsic part of the modality's
signatures whose outcome shows in the dataset alone: `seen_without_reference`) and
``relative`` (signatures that had a reference, intrinsic and relative parts), so a dataset
screened without a reference is compared on what it alone shows. A shifted or rescaled
copy of real data looks clean on its own; kept in the intrinsic space, such signatures
would stand beside every clean dataset as collapsed ones.

Vectors: each feature is standardised by the library's clean signatures of the modality
(those whose outcome is no collapse; all signatures when fewer than MIN_CLEAN are clean):
``z = (x - median) / max(1.4826 MAD, feature floor)``, clipped to +-Z_CLIP, a feature that
does not apply (NaN) counting as typical (0). A constant component BIAS x sqrt(features)
is put in front before the vector is L2-normalised, and the index is an exact inner-product
index (`faiss.IndexFlatIP`), so the score is the cosine similarity of [bias, z]: datasets
close to typical clean data point along the bias and are similar to each other, a
dataset far from typical is similar only to signatures that deviate the same way. Without
the bias, clean datasets (z near 0, pointing anywhere) would match at random.

The standardisation depends on the library's content, so an index is rebuilt (not
patched) when the library's generation changes (`LibraryIndex.refresh`); a flat index of
100,000 signatures builds in well under a second. Where FAISS sees a GPU
(``faiss.get_num_gpus() > 0``, the `faiss-gpu` package of the ``gpu`` extra), the index is
moved to the GPUs; otherwise it stays on the CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fingerprint import INTRINSIC, RELATIVE, Fingerprint
from .store import LibrarySnapshot, SignatureLibrary

SPACES = ("intrinsic", "relative")
MIN_CLEAN = 5
Z_CLIP = 10.0
BIAS = 1.0
_FLOORS = np.array([f.floor for f in INTRINSIC + RELATIVE])


@dataclass(frozen=True)
class Match:
    """A library signature near the query, with its historical outcome."""

    signature_id: str
    similarity: float
    collapse_type: str | None
    collapse_detected: bool | None
    risk_score: float | None
    source: str
    dataset_path: str | None
    label: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """The report.json `signature_matches` entry (its first three keys are the
        contract; the outcome follows)."""
        return {
            "signature_id": self.signature_id,
            "collapse_type": self.collapse_type,
            "similarity": round(self.similarity, 6),
            "collapse_detected": self.collapse_detected,
            "risk_score": self.risk_score,
            "source": self.source,
            "dataset_path": self.dataset_path,
            "label": self.label,
        }


class Standardiser:
    """Median and spread of each feature over a library's clean signatures."""

    def __init__(self, vectors: np.ndarray, clean: np.ndarray, floors: np.ndarray) -> None:
        basis = vectors[clean] if clean.sum() >= MIN_CLEAN else vectors
        with np.errstate(all="ignore"):
            self.center = _nan_median(basis)
            mad = 1.4826 * _nan_median(np.abs(basis - self.center))
        self.scale = np.maximum(np.nan_to_num(mad, nan=0.0), floors)
        self.active = np.isfinite(self.center)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(vectors) - self.center) / self.scale
        z = np.clip(np.nan_to_num(z, nan=0.0, posinf=Z_CLIP, neginf=-Z_CLIP), -Z_CLIP, Z_CLIP)
        z[:, ~self.active] = 0.0
        bias = np.full((z.shape[0], 1), BIAS * math.sqrt(max(1, int(self.active.sum()))))
        out = np.hstack([bias, z])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _nan_median(values: np.ndarray) -> np.ndarray:
    if values.shape[0] == 0:
        return np.full(values.shape[1], np.nan)
    finite = np.isfinite(values)
    out = np.full(values.shape[1], np.nan)
    for j in np.flatnonzero(finite.any(axis=0)):
        out[j] = np.median(values[finite[:, j], j])
    return out


def seen_without_reference(record: dict[str, Any]) -> bool:
    """Whether a signature's outcome shows in its dataset alone: its label says so (a
    seeded family defined relative to a reference does not), else its collapse type is not
    distribution_shift (a distribution moved away from a reference no screen of the
    dataset alone can see)."""
    outcome = record["outcome"]
    label = outcome.get("label") or {}
    if "seen_without_reference" in label:
        return bool(label["seen_without_reference"])
    return outcome.get("collapse_type") != "distribution_shift"


def space_vectors(snapshot: LibrarySnapshot, space: str) -> np.ndarray:
    if space == "intrinsic":
        return snapshot.intrinsic
    return np.hstack([snapshot.intrinsic, snapshot.relative])


def query_vector(fingerprint: Fingerprint, space: str) -> np.ndarray:
    if space == "intrinsic":
        return fingerprint.intrinsic
    if fingerprint.relative is None:
        raise ValueError("the relative space needs a fingerprint taken with a reference")
    return np.concatenate([fingerprint.intrinsic, fingerprint.relative])


def _faiss_index(vectors: np.ndarray) -> Any:
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    if faiss.get_num_gpus() > 0:
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(vectors)
    return index


class SignatureIndex:
    """The signatures of one modality in one space, searchable by cosine similarity."""

    def __init__(self, snapshot: LibrarySnapshot, modality: str, space: str) -> None:
        if space not in SPACES:
            raise ValueError(f"unknown space {space!r}; choose from {SPACES}")
        rows = snapshot.modality == modality
        if space == "relative":
            rows &= snapshot.has_relative
        else:
            rows &= np.array([seen_without_reference(r) for r in snapshot.records], dtype=bool)
        self.modality, self.space = modality, space
        self.snapshot = snapshot.subset(np.flatnonzero(rows))
        vectors = space_vectors(self.snapshot, space)
        verdicts = [r["outcome"].get("collapse_detected") for r in self.snapshot.records]
        clean = np.array([v is False for v in verdicts], dtype=bool)
        self.collapsed = sum(v is True for v in verdicts)
        self.clean = int(clean.sum())
        self.standardiser = Standardiser(vectors, clean, _FLOORS[: vectors.shape[1]])
        self.index = _faiss_index(self.standardiser.transform(vectors)) if len(vectors) else None

    def __len__(self) -> int:
        return len(self.snapshot)

    def outcome_shares(self) -> dict[bool, float]:
        """Share of collapsed (True) and clean (False) among signatures with a known
        outcome (each at least one signature's worth, so neither share is 0)."""
        known = max(1, self.collapsed + self.clean)
        return {True: max(self.collapsed, 1) / known, False: max(self.clean, 1) / known}

    def search(self, fingerprint: Fingerprint, k: int) -> list[Match]:
        """The `k` most similar signatures, most similar first."""
        if self.index is None or k <= 0:
            return []
        query = self.standardiser.transform(query_vector(fingerprint, self.space))
        similarity, rows = self.index.search(query, min(k, len(self)))
        return [
            self._match(int(r), float(s))
            for s, r in zip(similarity[0], rows[0], strict=True)
            if r >= 0
        ]

    def _match(self, row: int, similarity: float) -> Match:
        record = self.snapshot.records[row]
        outcome = record["outcome"]
        return Match(
            signature_id=self.snapshot.ids[row],
            similarity=similarity,
            collapse_type=outcome.get("collapse_type"),
            collapse_detected=outcome.get("collapse_detected"),
            risk_score=outcome.get("risk_score"),
            source=record["provenance"].get("source", ""),
            dataset_path=(record["provenance"].get("dataset") or {}).get("path"),
            label=outcome.get("label"),
        )


class LibraryIndex:
    """Indexes over a library file, rebuilt when its generation changes."""

    def __init__(self, library: SignatureLibrary | LibrarySnapshot) -> None:
        self.library = library if isinstance(library, SignatureLibrary) else None
        self.snapshot = library if isinstance(library, LibrarySnapshot) else None
        self._indexes: dict[tuple[str, str], SignatureIndex] = {}

    def refresh(self) -> LibrarySnapshot:
        """Re-read the library when a writer has changed it since the last build."""
        if self.library is not None and (
            self.snapshot is None or self.library.generation() != self.snapshot.generation
        ):
            self.snapshot = self.library.read()
            self._indexes.clear()
        assert self.snapshot is not None
        return self.snapshot

    def index(self, modality: str, space: str) -> SignatureIndex:
        snapshot = self.refresh()
        key = (modality, space)
        if key not in self._indexes:
            self._indexes[key] = SignatureIndex(snapshot, modality, space)
        return self._indexes[key]
