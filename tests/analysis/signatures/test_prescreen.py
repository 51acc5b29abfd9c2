"""Index and pre-screen on a small real library: breast-cancer halves, clean and with
copied rows. A new copied table is flagged as memorization, a new clean one proceeds, a
library with nothing comparable says so, and the index follows the library's writes."""

from __future__ import annotations

import numpy as np
import pytest

from synthos.analysis.signatures import (
    FingerprintConfig,
    LibraryIndex,
    PreScreenConfig,
    SeedCase,
    SignatureLibrary,
    fingerprint,
    prescreen,
    screen,
    seed_library,
)
from tests.analysis.signatures.conftest import halves, with_duplicates

CONFIG = FingerprintConfig(threads=1)


def cases(table, seeds, name="bc"):
    out = []
    for seed in seeds:
        ref, hold = halves(table, seed)
        out.append(SeedCase(f"{name}/clean/{seed}", hold, "clean", 0, ref, base=name))
        copied = with_duplicates(hold, 0.1 + 0.05 * (seed % 3), seed)
        out.append(SeedCase(f"{name}/dup/{seed}", copied, "exact_duplicates", 1, ref, base=name))
    return out


@pytest.fixture(scope="module")
def library(table, tmp_path_factory) -> SignatureLibrary:
    library = SignatureLibrary(tmp_path_factory.mktemp("lib") / "signatures.h5")
    seed_library(library, cases(table, range(6)), config=CONFIG)
    return library


def test_copied_rows_are_flagged_and_typed_memorization(library, table):
    ref, hold = halves(table, 100)
    copied = prescreen(
        with_duplicates(hold, 0.2, 100), ref, library=library, fingerprint_config=CONFIG
    )
    assert copied.space == "relative"
    assert copied.pre_risk >= 50 and not copied.proceed
    assert copied.collapse_type == "memorization"
    assert (
        copied.matches[0].collapse_detected
        and copied.matches[0].label["family"] == "exact_duplicates"
    )
    clean = prescreen(hold, ref, library=library, fingerprint_config=CONFIG)
    assert clean.pre_risk < 50 and clean.proceed
    assert clean.matches[0].collapse_detected is False
    assert "closest tabular signatures collapsed" in clean.reason
    assert "without a reference" not in clean.reason


def test_candidate_alone_is_screened_on_what_it_shows(library, table):
    _, hold = halves(table, 101)
    alone = prescreen(with_duplicates(hold, 0.25, 101), library=library, fingerprint_config=CONFIG)
    assert alone.space == "intrinsic" and alone.fingerprint.relative is None
    assert alone.pre_risk >= 50 and alone.collapse_type == "memorization"
    assert "without a reference" in alone.reason
    assert prescreen(hold, library=library, fingerprint_config=CONFIG).pre_risk < 50


def test_a_stored_signature_is_its_own_nearest_match(library):
    snapshot = library.read()
    index = LibraryIndex(library)
    from synthos.analysis.signatures import Fingerprint

    for row in (0, 5):
        found = Fingerprint("tabular", snapshot.intrinsic[row], snapshot.relative[row], {})
        result = screen(found, index, PreScreenConfig(k=3))
        assert result.matches[0].signature_id == snapshot.ids[row]
        assert result.matches[0].similarity == pytest.approx(1.0, abs=1e-5)
        assert [m.similarity for m in result.matches] == sorted(
            (m.similarity for m in result.matches), reverse=True
        )


def test_nothing_comparable_gives_no_pre_risk_and_says_why(library, tmp_path, series):
    other_modality = prescreen(series, library=library, fingerprint_config=CONFIG)
    assert other_modality.pre_risk is None and other_modality.proceed
    assert "no time_series signature" in other_modality.reason
    empty = prescreen(series, library=SignatureLibrary(tmp_path / "none.h5"))
    assert empty.pre_risk is None and empty.matches == []


def test_the_index_follows_writes_to_the_library(table, tmp_path):
    library = SignatureLibrary(tmp_path / "growing.h5")
    index = LibraryIndex(library)
    ref, hold = halves(table, 7)
    found = fingerprint(hold, ref, config=CONFIG)
    assert screen(found, index).pre_risk is None
    seed_library(library, cases(table, [1, 2, 3]), config=CONFIG)
    result = screen(found, index)
    assert result.pre_risk is not None and result.library["comparable"] == 6
    assert result.library["generation"] == library.generation()


def test_the_index_is_a_flat_inner_product_index_on_the_cpu_without_a_gpu(library):
    import faiss

    index = LibraryIndex(library).index("tabular", "intrinsic")
    if faiss.get_num_gpus() == 0:
        assert isinstance(index.index, faiss.IndexFlatIP)
    assert index.index.ntotal == len(library.read())
    vectors = index.standardiser.transform(library.read().intrinsic)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_pre_screen_settings_are_checked():
    with pytest.raises(ValueError):
        PreScreenConfig(k=0)
    with pytest.raises(ValueError):
        PreScreenConfig(temperature=0)


def test_reference_only_defects_stay_out_of_the_screen_without_a_reference(table, tmp_path):
    ref, hold = halves(table, 11)
    shifted = hold.copy()
    numeric = hold.columns[:-1]
    shifted[numeric] += ref[numeric].std()
    library = SignatureLibrary(tmp_path / "shift.h5")
    seed_library(
        library,
        [
            SeedCase("clean", hold, "clean", 0, ref),
            SeedCase("shift", shifted, "mean_shift", 3, ref),
            SeedCase("dup", with_duplicates(hold, 0.3, 11), "exact_duplicates", 3, ref),
        ],
        config=CONFIG,
    )
    index = LibraryIndex(library)
    alone = {
        m.signature_id
        for m in index.index("tabular", "intrinsic").search(fingerprint(hold, config=CONFIG), 10)
    }
    with_reference = index.index("tabular", "relative")
    ids = library.read().ids
    assert len(with_reference) == 3 and len(index.index("tabular", "intrinsic")) == 2
    assert ids[1] not in alone and {ids[0], ids[2]} == alone
    assert library.read().outcome(1)["label"]["seen_without_reference"] is False
