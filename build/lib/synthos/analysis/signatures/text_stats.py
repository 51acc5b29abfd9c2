"""Statistics of a text column: lengths, n-gram diversity, the vocabulary's shape, loops.

Documents are word-tokenised as the collapse detector does (lower-cased ``\\w+``). Corpus
statistics run over the first TOKEN_BUDGET tokens of the documents in sample order (the
sample is keyed by content, so the same corpus gives the same tokens), since type counts
grow with the number of tokens read.

* doc_length_log / doc_length_cv: mean log word count and its coefficient of variation.
* distinct_1/2/3: distinct n-grams / n-grams; unigram_entropy_norm: unigram entropy over
  log(types); hapax_share: types seen once / types; zipf_slope: log frequency on log rank
  over the first 1,000 ranks; top10_share: tokens of the ten commonest words.
* doc_repetition: mean over documents of 1 - distinct 3-grams / 3-grams within the
  document; looping_docs: share of documents where that is over one half (a document that
  loops on a phrase).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from synthos.analysis.collapse.dimensions.entropy_stability import text_statistics
from synthos.analysis.collapse.dimensions.spectral_coherence import zipf_slope
from synthos.analysis.collapse.features import TOKEN

#: Tokens the corpus statistics read.
TOKEN_BUDGET = 20_000
#: Tokens kept per document.
MAX_DOC_TOKENS = 2_000
#: Ranks of the Zipf fit.
ZIPF_RANKS = 1_000
#: Within-document 3-gram repetition above which a document loops.
LOOP_SHARE = 0.5


def tokenize(texts: list[str]) -> list[list[str]]:
    return [TOKEN.findall(text.lower())[:MAX_DOC_TOKENS] for text in texts]


def token_stream(docs: list[list[str]], budget: int = TOKEN_BUDGET) -> list[str]:
    out: list[str] = []
    for doc in docs:
        out.extend(doc)
        if len(out) >= budget:
            return out[:budget]
    return out


def text_shape(docs: list[list[str]]) -> dict[str, float]:
    """The statistics of the module docstring for tokenised documents."""
    keys = (
        "doc_length_log",
        "doc_length_cv",
        "distinct_1",
        "distinct_2",
        "distinct_3",
        "unigram_entropy_norm",
        "hapax_share",
        "zipf_slope",
        "top10_share",
        "doc_repetition",
        "looping_docs",
    )
    out = dict.fromkeys(keys, math.nan)
    lengths = np.array([len(d) for d in docs], dtype=np.float64)
    stream = token_stream(docs)
    if lengths.size == 0 or len(stream) < 10:
        return out
    out["doc_length_log"] = float(np.mean(np.log1p(lengths)))
    out["doc_length_cv"] = float(lengths.std() / lengths.mean()) if lengths.mean() > 0 else 0.0
    diversity = text_statistics(stream)
    for n in (1, 2, 3):
        out[f"distinct_{n}"] = diversity[f"distinct_{n}"]
    counts = Counter(stream)
    types = len(counts)
    out["unigram_entropy_norm"] = diversity["unigram_entropy"] / math.log(max(types, 2))
    out["hapax_share"] = sum(1 for c in counts.values() if c == 1) / types
    out["zipf_slope"] = zipf_slope(list(counts.values()), min(ZIPF_RANKS, types))
    out["top10_share"] = sum(c for _, c in counts.most_common(10)) / len(stream)
    repetition = np.array([_doc_repetition(d) for d in docs if len(d) >= 6])
    if repetition.size:
        out["doc_repetition"] = float(repetition.mean())
        out["looping_docs"] = float(np.mean(repetition > LOOP_SHARE))
    return out


def _doc_repetition(doc: list[str]) -> float:
    grams = list(zip(doc, doc[1:], doc[2:], strict=False))
    return 1.0 - len(set(grams)) / len(grams)


def vocabulary_shift(cand: list[list[str]], ref: list[list[str]]) -> dict[str, float]:
    """Candidate against reference at an equal token budget: the share of candidate tokens
    the reference never uses (oov_share), log(candidate types / reference types)
    (vocabulary_ratio) and the Jensen-Shannon divergence of the unigram distributions
    (unigram_js, natural log)."""
    budget = min(TOKEN_BUDGET, len(token_stream(cand)), len(token_stream(ref)))
    a, b = Counter(token_stream(cand, budget)), Counter(token_stream(ref, budget))
    if budget < 10:
        return dict.fromkeys(("oov_share", "vocabulary_ratio", "unigram_js"), math.nan)
    vocab = sorted(set(a) | set(b))
    p = np.array([a[w] for w in vocab], dtype=np.float64) / budget
    q = np.array([b[w] for w in vocab], dtype=np.float64) / budget
    m = 0.5 * (p + q)

    def kl(x: np.ndarray) -> float:
        keep = x > 0
        return float(np.sum(x[keep] * np.log(x[keep] / m[keep])))

    return {
        "oov_share": sum(c for w, c in a.items() if w not in b) / budget,
        "vocabulary_ratio": math.log(len(a) / len(b)),
        "unigram_js": 0.5 * kl(p) + 0.5 * kl(q),
    }
