"""Low-quality documents: junk, markup, gibberish, loops, fragments (text).

Six statistics per document, each judged by its robust z-score against the same statistic
of the reference's holdout documents (the candidate's own documents without a reference),
in the direction that means trouble:

* letters: share of alphabetic characters among the non-space ones (low: markup, numbers,
  symbols);
* word_length: mean characters per word (either way: fragments, glued tokens);
* compression: zlib-compressed over raw size (low: a loop; high: random characters);
* distinct: distinct words over words in the first 100 (low: repetition);
* unknown: share of words the reference part never uses (high: gibberish, another
  language); without a reference, words no other candidate document uses;
* words: log word count (low: fragments).

Each z becomes a p-value through the upper-tail model fitted on the holdout's z-scores; a
document's p-value is the smallest of the six times six (Bonferroni).
"""

from __future__ import annotations

import zlib
from collections import Counter

import numpy as np

from synthos.analysis.collapse import features

from .config import LocalizeConfig
from .evidence import Evidence
from .pvalues import robust_z, upper_tail_pvalues
from .rows import RowView

NAME = "low_quality_text"
#: Statistic -> which side of the real documents means trouble (-1 low, +1 high, 0 both).
DIRECTIONS = {
    "letters": -1,
    "word_length": 0,
    "compression": 0,
    "distinct": -1,
    "unknown": 1,
    "words": -1,
}
DISTINCT_WINDOW = 100


def document_statistics(texts: list[str], tokens: list[list[str]], vocabulary) -> np.ndarray:
    """(documents, 6) statistics in the order of `DIRECTIONS`; `vocabulary(word)` tells
    whether a word is known."""
    out = np.zeros((len(texts), len(DIRECTIONS)))
    for i, (text, words) in enumerate(zip(texts, tokens, strict=True)):
        text = text or ""
        visible = [c for c in text if not c.isspace()]
        raw = text.encode("utf-8", "replace")
        first = words[:DISTINCT_WINDOW]
        out[i] = (
            sum(c.isalpha() for c in visible) / max(1, len(visible)),
            sum(map(len, words)) / max(1, len(words)),
            len(zlib.compress(raw)) / max(1, len(raw)),
            len(set(first)) / max(1, len(first)),
            sum(not vocabulary(w) for w in words) / max(1, len(words)),
            np.log1p(len(words)),
        )
    return out


def _texts(cmp, side: str) -> list[str]:
    return features.table(cmp, side).column(cmp.text_column).to_pylist()


def text_quality_evidence(view: RowView, config: LocalizeConfig) -> Evidence:
    cand_tokens = features.tokens(view.full, "candidate")
    if view.cmp.has_reference:
        known = set().union(*features.tokens(view.cmp, "reference"))
        stats = document_statistics(_texts(view.full, "candidate"), cand_tokens, known.__contains__)
        null = document_statistics(
            _texts(view.cmp, "holdout"), features.tokens(view.cmp, "holdout"), known.__contains__
        )
        baseline = f"the reference holdout's documents ({len(null)})"
    else:
        spread = Counter(w for doc in cand_tokens for w in set(doc))
        stats = document_statistics(
            _texts(view.full, "candidate"), cand_tokens, lambda w: spread[w] > 1
        )
        null = stats
        baseline = "none (no reference): the candidate's own documents"
    p_each = np.ones_like(stats)
    for j, direction in enumerate(DIRECTIONS.values()):
        z = robust_z(stats[:, j], null[:, j])
        z0 = robust_z(null[:, j], null[:, j])
        if direction:
            z, z0 = np.maximum(direction * z, 0.0), np.maximum(direction * z0, 0.0)
        p_each[:, j] = upper_tail_pvalues(np.abs(z), np.abs(z0))
    p = np.minimum(1.0, p_each.min(axis=1) * len(DIRECTIONS))
    columns = {f"text_{name}": view.to_file_order(stats[:, j]) for j, name in enumerate(DIRECTIONS)}
    worst = np.asarray(list(DIRECTIONS), dtype=object)[np.argmin(p_each, axis=1)]
    columns["text_worst_statistic"] = view.to_file_order(worst)
    return Evidence(
        NAME,
        "low_quality",
        view.to_file_order(p),
        columns=columns,
        affected_columns=[view.cmp.text_column],
        summary={"statistics": list(DIRECTIONS), "baseline": baseline},
    )
