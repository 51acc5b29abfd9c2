"""Metadata (SDV JSON, Synthos YAML) and panels: one series per entity."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthos.analysis.collapse import DIMENSIONS, CollapseConfig, detect_collapse, prepare
from synthos.analysis.collapse.metadata import load_metadata
from synthos.errors import DataError

THRESHOLDS = dict.fromkeys(DIMENSIONS, 60.0)


def _config(**kwargs) -> CollapseConfig:
    return CollapseConfig(thresholds=THRESHOLDS, modality_thresholds={}, **kwargs)


def _panel(entities: int, steps: int, seed: int) -> pd.DataFrame:
    """Stores with their own level (sd 1 between stores) and AR(1) daily sales."""
    rng = np.random.default_rng(seed)
    frames = []
    for e in range(entities):
        level = 50 + rng.normal()
        noise = np.zeros(steps)
        for t in range(1, steps):
            noise[t] = 0.6 * noise[t - 1] + rng.normal(scale=1.0)
        frames.append(
            pd.DataFrame(
                {
                    "store": f"s{e:02d}",
                    "day": pd.date_range("2024-01-01", periods=steps, freq="D"),
                    "region": "north" if e % 2 else "south",
                    "sales": level + noise,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def entity_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """20 entities: 10 for the candidate, 10 for the reference (a clean entity split)."""
    panel = _panel(20, 60, seed=7)
    stores = sorted(panel["store"].unique())
    held = set(np.random.default_rng(0).permutation(stores)[:10])
    cand = panel[panel["store"].isin(held)].reset_index(drop=True)
    ref = panel[~panel["store"].isin(held)].reset_index(drop=True)
    return cand, ref


def test_clean_entity_split_passes(entity_split):
    cand, ref = entity_split
    result = detect_collapse(cand, ref, config=_config(entity_column="store", time_column="day"))
    assert result.dataset["modality"] == "time_series"
    assert result.dataset["panel"] == {"entity": "store", "time": "day"}
    failed = {d.name: d.score for d in result.dimensions if d.failed}
    assert not result.collapse_detected, failed
    outliers = result.dimension("distribution_fidelity").evidence["columns"]["entities (outlying)"]
    assert outliers["entities_tested"] == 10 and outliers["outlying"] == []


def test_level_shift_of_one_entity_is_found_and_named(entity_split):
    cand, ref = entity_split
    shifted = cand.copy()
    victim = sorted(shifted["store"].unique())[3]
    shifted.loc[shifted["store"] == victim, "sales"] += 10.0
    result = detect_collapse(shifted, ref, config=_config(entity_column="store", time_column="day"))
    fidelity = result.dimension("distribution_fidelity")
    assert fidelity.failed
    outliers = fidelity.evidence["columns"]["entities (outlying)"]["outlying"]
    assert [o["entity"] for o in outliers] == [victim]
    assert outliers[0]["summary"] == "log level of sales"


def test_panel_rows_never_difference_across_entities(entity_split):
    cand, ref = entity_split
    cmp = prepare(cand, ref, config=_config(entity_column="store", time_column="day"))
    # per entity 59 increments; none spans two entities (whose levels differ)
    from synthos.analysis.collapse import features

    parts = features.segments(cmp, "candidate")
    assert [len(p) for p in parts] == [59] * 10
    # the reference is split by entity: whole entities on each side
    ref_stores = set(cmp.reference.column("store").to_pylist())
    hold_stores = set(cmp.holdout.column("store").to_pylist())
    assert ref_stores.isdisjoint(hold_stores) and len(ref_stores | hold_stores) == 10


def test_copied_entity_series_are_memorisation(entity_split):
    cand, ref = entity_split
    copied = cand.copy()
    stores = sorted(copied["store"].unique())
    ref_stores = sorted(ref["store"].unique())
    for mine, theirs in zip(stores[:5], ref_stores[:5], strict=True):
        copied.loc[copied["store"] == mine, "sales"] = ref.loc[
            ref["store"] == theirs, "sales"
        ].to_numpy()
    result = detect_collapse(copied, ref, config=_config(entity_column="store", time_column="day"))
    memo = result.dimension("memorization")
    assert memo.failed
    assert memo.evidence["copied_entities"]["candidate_share"] == pytest.approx(0.5)


SDV_SINGLE = {
    "METADATA_SPEC_VERSION": "SINGLE_TABLE_V1",
    "primary_key": "customer_id",
    "columns": {
        "customer_id": {"sdtype": "id"},
        "age": {"sdtype": "numerical"},
        "segment": {"sdtype": "categorical"},
        "churn": {"sdtype": "boolean"},
        "email": {"sdtype": "email", "pii": True},
    },
}
SDV_SEQUENTIAL = {
    "tables": {
        "sales": {
            "columns": {
                "store": {"sdtype": "id"},
                "day": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"},
                "region": {"sdtype": "categorical"},
                "sales": {"sdtype": "numerical"},
            },
            "sequence_key": "store",
            "sequence_index": "day",
        }
    },
    "METADATA_SPEC_VERSION": "SINGLE_TABLE_V1",
}


def test_sdv_metadata_of_both_kinds_loads(tmp_path):
    single = tmp_path / "single.json"
    single.write_text(json.dumps(SDV_SINGLE))
    meta = load_metadata(single)
    assert meta.roles == {
        "customer_id": "key",
        "age": "numeric",
        "segment": "categorical",
        "churn": "categorical",
        "email": "key",
    }
    assert meta.entity is None
    sequential = tmp_path / "sequential.json"
    sequential.write_text(json.dumps(SDV_SEQUENTIAL))
    meta = load_metadata(sequential)
    assert (meta.entity, meta.time) == ("store", "day")
    assert meta.roles["day"] == "datetime"


def test_sequential_metadata_makes_a_panel(tmp_path, entity_split):
    cand, ref = entity_split
    path = tmp_path / "sequential.json"
    path.write_text(json.dumps(SDV_SEQUENTIAL))
    cmp = prepare(cand, ref, config=_config(metadata=str(path)))
    assert cmp.entity_column == "store" and cmp.time_column == "day"
    assert cmp.roles.columns["store"].role == "entity"
    assert cmp.roles.columns["store"].set_by == "metadata"


def test_synthos_yaml_roles(tmp_path):
    frame = pd.DataFrame({"code": [f"c{i}" for i in range(100)], "x": np.arange(100) * 1.5})
    path = tmp_path / "roles.yaml"
    path.write_text("roles:\n  x: categorical\n  code: ignore\ntarget: x\n")
    cmp = prepare(frame, frame.sample(frac=1, random_state=1), config=_config(metadata=str(path)))
    assert cmp.kinds == {"x": "categorical"}
    assert cmp.roles.columns["code"].role == "ignore"
    assert cmp.target_column == "x"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"columns": {"age": {"sdtype": "numbers"}}}, "sdtype 'numbers'"),
        ({"columns": {"height": {"sdtype": "numerical"}}}, "does not have.*'height'"),
        ({"roles": {"age": "measure"}}, "role 'measure'"),
        ({"roles": {"age": "numeric"}, "entities": "x"}, "unknown key"),
        ({"tables": {"a": {"columns": {}}, "b": {"columns": {}}}}, "2 tables"),
    ],
)
def test_bad_metadata_is_a_data_error(payload, message):
    frame = pd.DataFrame({"age": np.arange(50.0), "segment": ["a", "b"] * 25})
    with pytest.raises(DataError, match=message):
        prepare(frame, frame.iloc[::-1], config=_config(metadata=payload))


def test_unreadable_metadata_file_is_a_data_error(tmp_path):
    frame = pd.DataFrame({"age": np.arange(50.0)})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for path, message in ((tmp_path / "absent.json", "cannot read"), (broken, "cannot parse")):
        with pytest.raises(DataError, match=message):
            prepare(frame, frame.iloc[::-1], config=_config(metadata=str(path)))
