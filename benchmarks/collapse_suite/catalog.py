"""The suite's cases: clean controls and defects at three strengths for every base dataset.

Seed `s` of a base dataset is one reference / holdout split. A clean control is the holdout
of a split against its reference; a defect case is the holdout of a split with the defect
injected, against the same reference. Defect cases spread over the splits, so that clean and
defective candidates come from the same splits. Everything is deterministic in the seeds.
"""

from __future__ import annotations

import numpy as np

from benchmarks.collapse_suite.bases import ALL_NAMES, BaseDataset, load_base
from benchmarks.collapse_suite.case import CLEAN, Case
from benchmarks.collapse_suite.families import DEFECTS, defects_for
from benchmarks.collapse_suite.split import split_base

#: Clean controls (and splits) per base dataset in the full suite and in --quick.
SEEDS = 30
QUICK_SEEDS = 3
#: Splits whose clean controls (and defects) set the thresholds; the other splits are held out
#: to check them (see calibrate.py).
CALIBRATION_SEEDS = frozenset(range(0, SEEDS, 2))
#: The --quick subset: one base dataset per modality kind, the middle strength only.
QUICK_BASES = ("wine", "breast_cancer", "penguins", "elnino", "macro_growth", "stdlib_docs")
QUICK_STRENGTHS = (2,)


def build_cases(
    names: tuple[str, ...] = ALL_NAMES,
    seeds: int = SEEDS,
    strengths: tuple[int, ...] = (1, 2, 3),
) -> list[Case]:
    """All cases of the named base datasets."""
    cases: list[Case] = []
    for name in names:
        cases.extend(cases_for(load_base(name), seeds, strengths))
    return cases


def quick_cases() -> list[Case]:
    """The --quick subset."""
    return build_cases(QUICK_BASES, QUICK_SEEDS, QUICK_STRENGTHS)


def cases_for(
    base: BaseDataset,
    seeds: int,
    strengths: tuple[int, ...],
    families: frozenset[str] | None = None,
) -> list[Case]:
    """Clean controls for every seed and every applicable defect at `strengths`; only those
    of `families` ("clean" included) when given. A case is the same whichever others are
    built with it."""
    splits = [split_base(base, seed) for seed in range(seeds)]
    wanted = families or frozenset([CLEAN, *(d.family for d in DEFECTS)])
    cases = [
        Case(
            case_id=f"{base.name}/{CLEAN}/s{seed}",
            base=base.name,
            modality=base.modality,
            family=CLEAN,
            strength=0,
            level=0.0,
            seed=seed,
            reference=split.reference,
            candidate=split.holdout,
            expected_failing=frozenset(),
        )
        for seed, split in enumerate(splits)
        if CLEAN in wanted
    ]
    for defect in defects_for(base):
        if defect.family not in wanted:
            continue
        family_index = DEFECTS.index(defect)
        for strength in strengths:
            seed = (family_index + strength) % seeds
            level = defect.levels[strength - 1]
            rng = np.random.default_rng([seed, family_index, strength])
            injected = defect.inject(splits[seed], base, level, rng)
            cases.append(
                Case(
                    case_id=f"{base.name}/{defect.family}/{strength}/s{seed}",
                    base=base.name,
                    modality=base.modality,
                    family=defect.family,
                    strength=strength,
                    level=float(level),
                    seed=seed,
                    reference=splits[seed].reference,
                    candidate=injected.candidate,
                    expected_failing=defect.expected_failing,
                    defective_rows=injected.defective_rows,
                    removed_rows=injected.removed_rows,
                )
            )
    return cases
