"""Generated datasets with known strata, outliers, correlations and text topics."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

N_ROWS = 20_000
SEGMENTS = {"a": 12_000, "b": 6_000, "c": 1_900, "rare": 100}  # "rare" is 0.5 %
PLANTED_OUTLIERS = 60  # rows of z far out (0.3 %)

TOPICS = {
    "sports": [
        "goal",
        "match",
        "striker",
        "keeper",
        "referee",
        "league",
        "season",
        "coach",
        "penalty",
        "stadium",
    ],
    "finance": [
        "market",
        "stock",
        "bond",
        "yield",
        "equity",
        "dividend",
        "inflation",
        "credit",
        "banker",
        "portfolio",
    ],
    "cooking": [
        "recipe",
        "oven",
        "garlic",
        "butter",
        "simmer",
        "flour",
        "pepper",
        "roast",
        "sauce",
        "onion",
    ],
    "astro": ["quasar", "nebula", "photon", "galaxy", "comet", "pulsar"],  # the rare topic
}
TOPIC_SHARES = {"sports": 0.5, "finance": 0.3, "cooking": 0.192, "astro": 0.008}


def planted_table(seed: int = 0) -> pa.Table:
    """20k rows: a categorical segment with a 0.5 % stratum, x~y correlated (r ~ 0.8),
    z with 60 planted outliers, w uniform, a segment-dependent category and a noise one."""
    rng = np.random.default_rng(seed)
    segment = np.concatenate([np.full(c, k, dtype=object) for k, c in SEGMENTS.items()])
    rng.shuffle(segment)
    x = rng.standard_normal(N_ROWS)
    y = 0.8 * x + 0.6 * rng.standard_normal(N_ROWS)
    z = rng.standard_normal(N_ROWS)
    planted = rng.choice(N_ROWS, size=PLANTED_OUTLIERS, replace=False)
    z[planted] = 30.0 + rng.random(PLANTED_OUTLIERS)
    w = rng.uniform(0.0, 10.0, N_ROWS)
    follows = rng.random(N_ROWS) < 0.9
    shadow = np.where(follows, segment, rng.choice(["a", "b", "c", "rare"], N_ROWS))
    noise = rng.choice(["p", "q", "r"], N_ROWS)
    return pa.table(
        {
            "segment": pa.array(segment.tolist(), pa.string()),
            "x": x,
            "y": y,
            "z": z,
            "w": w,
            "shadow": pa.array(shadow.tolist(), pa.string()),
            "noise": pa.array(noise.tolist(), pa.string()),
        }
    )


def topic_table(n: int = 6000, seed: int = 7) -> tuple[pa.Table, np.ndarray]:
    """Texts drawn from four vocabularies (one at 0.8 %) and their topic labels."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(list(TOPIC_SHARES), size=n, p=list(TOPIC_SHARES.values()))
    texts = [" ".join(rng.choice(TOPICS[t], size=int(rng.integers(5, 25)))) for t in labels]
    return pa.table({"body": texts, "id": np.arange(n)}), labels


@pytest.fixture(scope="session")
def planted() -> pa.Table:
    return planted_table()
