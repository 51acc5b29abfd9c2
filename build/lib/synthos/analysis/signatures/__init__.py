"""Signature library: fingerprints of datasets with their outcomes, and the pre-screen.

    from synthos.analysis.signatures import SignatureLibrary, prescreen

    library = SignatureLibrary("signatures.h5")     # made by `synthos signatures seed`
    result = prescreen("candidate.parquet", reference=None, library=library)
    result.pre_risk, result.proceed, result.reason, result.matches

Modules: `fingerprint` (the vector and its features, read by `reading` from one pass and a
content-keyed sample; statistics in `table_stats`, `text_stats`, `series_stats`,
`nearness`), `store` (the HDF5 library: atomic, crash-safe, concurrent readers), `index`
(FAISS cosine search), `prescreen` (pre-risk, proceed, matches), `seed` and `patterns`
(known collapse patterns), `outcomes` (validations joining the library).
"""

from .fingerprint import INTRINSIC, RELATIVE, Fingerprint, FingerprintConfig, fingerprint
from .index import LibraryIndex, Match, SignatureIndex
from .outcomes import LIBRARY_ENV, configured_library, outcome_from_report, record_validation
from .prescreen import PreScreenConfig, PreScreenResult, prescreen, screen
from .seed import SeedCase, collapse_type_of, seed_library
from .store import LibrarySnapshot, Outcome, Signature, SignatureLibrary

__all__ = [
    "INTRINSIC",
    "LIBRARY_ENV",
    "RELATIVE",
    "Fingerprint",
    "FingerprintConfig",
    "LibraryIndex",
    "LibrarySnapshot",
    "Match",
    "Outcome",
    "PreScreenConfig",
    "PreScreenResult",
    "SeedCase",
    "Signature",
    "SignatureIndex",
    "SignatureLibrary",
    "collapse_type_of",
    "configured_library",
    "fingerprint",
    "outcome_from_report",
    "prescreen",
    "record_validation",
    "screen",
    "seed_library",
]
