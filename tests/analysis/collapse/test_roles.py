"""Column roles: keys, constants, datetimes, free text and many-level categories, inferred
with evidence or given; keys stay out of the statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthos.analysis.collapse import DIMENSIONS, CollapseConfig, detect_collapse, prepare
from synthos.errors import DataError

#: Fixed thresholds (the scores are what is tested, not the calibration).
THRESHOLDS = dict.fromkeys(DIMENSIONS, 60.0)


def _config(**kwargs) -> CollapseConfig:
    return CollapseConfig(thresholds=THRESHOLDS, modality_thresholds={}, **kwargs)


def _table(rows: int, seed: int, first_id: int) -> pd.DataFrame:
    """A table whose `customer_id` counts up from `first_id`: the same distribution on
    both sides except the key, which a synthesizer draws from its own range."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "customer_id": np.arange(first_id, first_id + rows),
            "age": np.round(40 + 12 * x + rng.normal(scale=3, size=rows)),
            "income": np.exp(10 + 0.5 * x + rng.normal(scale=0.3, size=rows)),
            "segment": rng.choice(["a", "b", "c"], size=rows, p=[0.5, 0.3, 0.2]),
            "churn": (x + rng.normal(size=rows) > 0.5).astype(int),
        }
    )


@pytest.fixture(scope="module")
def keyed_pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _table(600, 1, first_id=900_000), _table(600, 2, first_id=1)


def test_surrogate_key_in_disjoint_ranges_is_excluded_and_passes(keyed_pair):
    cand, ref = keyed_pair
    result = detect_collapse(cand, ref, config=_config())
    failed = {d.name: d.score for d in result.dimensions if d.failed}
    assert not result.collapse_detected, failed
    roles = result.dataset["column_roles"]
    assert roles["customer_id"]["role"] == "key"
    assert "key-like name" in roles["customer_id"]["reason"]
    for dim in result.dimensions:
        if dim.evaluated and dim.name != "training_stability":
            assert "customer_id" in dim.evidence["inputs"]["excluded_columns"], dim.name
    fidelity = result.dimension("distribution_fidelity").evidence["columns"]
    assert "customer_id" not in fidelity


def test_the_same_key_compared_as_a_number_fails(keyed_pair):
    cand, ref = keyed_pair
    result = detect_collapse(cand, ref, config=_config(column_roles={"customer_id": "numeric"}))
    assert result.collapse_detected
    assert result.dimension("distribution_fidelity").failed
    assert result.dimension("generalization_gap").failed
    fidelity = result.dimension("distribution_fidelity").evidence["columns"]
    assert fidelity["customer_id"]["ks"] == pytest.approx(1.0)
    assert result.dataset["column_roles"]["customer_id"]["set_by"] == "user"


def test_keys_leave_row_hashing_unless_meaningful(keyed_pair):
    cand, ref = keyed_pair
    copied = cand.copy()
    # half the candidate copies reference rows under new keys
    copied.iloc[:300, 1:] = ref.iloc[:300, 1:].to_numpy()
    plain = prepare(copied, ref, config=_config())
    assert plain.counts["copied_reference_rows"] >= 300
    keyed = prepare(copied, ref, config=_config(meaningful_keys=True))
    assert keyed.counts["copied_reference_rows"] == 0


def test_unique_integers_without_a_key_pattern_stay_numbers():
    rng = np.random.default_rng(3)
    values = rng.choice(np.arange(10**6), size=400, replace=False)
    skewed = np.sort(np.round(np.exp(rng.normal(8, 1.5, size=400))).astype(int))
    frame = pd.DataFrame(
        {"reading": np.unique(skewed)[:300], "row_no": np.arange(300), "v": values[:300]}
    )
    roles = prepare(frame, frame.iloc[::-1].copy(), config=_config()).roles.columns
    assert roles["reading"].role == "numeric"  # unique, skewed: a measurement
    assert roles["row_no"].role == "key"  # key-like name
    assert roles["v"].role == "key"  # unique and spread evenly: sequential-looking ids


def test_constants_datetimes_text_and_many_levels():
    rows = 500
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])

    def frame(seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        return pd.DataFrame(
            {
                "country": "NZ",
                "opened": pd.Timestamp("2021-01-01")
                + pd.to_timedelta(r.integers(0, 700, rows), unit="D"),
                "note": [" ".join(r.choice(words, size=r.integers(3, 12))) for _ in range(rows)],
                "city": [f"city{int(v)}" for v in r.zipf(1.6, rows) % 400],
                "amount": r.gamma(2.0, 50.0, rows),
            }
        )

    cand, ref = frame(5), frame(6)
    cmp = prepare(cand, ref, config=_config())
    roles = cmp.roles.columns
    assert roles["country"].role == "constant"
    assert roles["opened"].role == "datetime" and roles["opened"].calendar
    assert roles["note"].role == "text"
    assert roles["city"].role == "categorical" and len(roles["city"].levels) == 50
    assert {"opened (weekday)", "opened (month)", "note (words)"} <= set(cmp.kinds)
    assert cmp.kinds["opened"] == "numeric"
    days = cmp.reference.column("opened").to_numpy()
    assert days.min() > 18_600 and days.max() < 19_400  # days since 1970
    assert "country" in cmp.notes["excluded_columns"]
    # dates compared as times: a year's shift fails distribution_fidelity through them
    shifted = cand.assign(opened=cand["opened"] + pd.Timedelta(days=365))
    result = detect_collapse(shifted, ref, config=_config())
    worst = result.dimension("distribution_fidelity").evidence["worst_columns"]
    assert worst[0] == "opened"


def test_target_is_named_or_the_last_non_key_column(keyed_pair):
    cand, ref = keyed_pair
    assert prepare(cand, ref, config=_config()).target_column == "churn"
    named = prepare(cand, ref, config=_config(target_column="segment"))
    assert named.target_column == "segment"
    with pytest.raises(DataError, match=r"customer_id.*role key"):
        prepare(cand, ref, config=_config(target_column="customer_id"))
    with pytest.raises(DataError, match="does not have"):
        prepare(cand, ref, config=_config(target_column="nope"))


def test_an_unknown_role_is_a_data_error(keyed_pair):
    cand, ref = keyed_pair
    with pytest.raises(DataError, match="unknown role 'identifier'"):
        prepare(cand, ref, config=_config(column_roles={"customer_id": "identifier"}))


def test_iso_strings_with_offsets_and_gaps_are_times():
    stamps = pd.Series(pd.date_range("1990-01-01", periods=300, freq="7D", tz="UTC"))
    text = stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype(object)
    text.iloc[[3, 40]] = None
    frame = pd.DataFrame({"kickoff": text, "goals": np.arange(300) % 7 * 1.0})
    cmp = prepare(frame.iloc[::2], frame.iloc[1::2], config=_config())
    assert cmp.roles.columns["kickoff"].role == "datetime"
    days = cmp.candidate.column("kickoff").to_numpy(zero_copy_only=False)
    assert np.isnan(days).sum() <= 2 and np.nanmin(days) == pytest.approx(7305.0)


def test_one_row_missing_two_categories_does_not_break_their_association():
    """A single row missing both values would be a level of its own in each column,
    perfectly associated: Cramer's V leaves such rows out."""

    def frame(seed: int, missing: bool) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        out = pd.DataFrame(
            {
                "day": r.choice(list("MTWRF"), 2000).astype(object),
                "month": r.choice(list("abcdefghijkl"), 2000).astype(object),
                "x": r.normal(size=2000),
            }
        )
        if missing:
            out.loc[7, ["day", "month"]] = None
        return out

    result = detect_collapse(frame(1, True), frame(2, False), config=_config())
    assert not result.dimension("correlation_preservation").failed
