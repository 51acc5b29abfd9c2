"""Row localizer: which rows are bad, why, and where they cluster.

    from synthos.analysis.localize import localize, LocalizeConfig

    result = localize("synthetic.parquet", reference="real.parquet",
                      cascade="logs/cascade/<id>", modality=None, config=None)
    result.row_scores          # pyarrow Table: row, score, issue_type, flagged, evidence
    result.regions             # report.json `regions`
    result.write_report(out)   # out/row_scores.parquet and out/report.json

Evidence (one module each; every source turns its statistic into a p-value against the
reference holdout judged the same way, `pvalues`):

* `duplicates`: exact (hashed over every row) and near duplicates within the candidate;
* `copies`: exact and near copies of reference rows (memorised records);
* `support`: rows outside the reference's support (out of distribution, shifted);
* `labels`: cross-validated label disagreement (tables with a target);
* `text_quality`: junk, markup, gibberish, loops, fragments (text);
* `series`: copied, repeated and out-of-support stretches of a series (windows);
* `model_evidence`: the cascade's checkpoints: per-row held-out loss and Captum TracInCP
  self-influence on the output head, on a sample of rows.

`combine` turns each source's p-values into false-discovery q-values and a row's score into
1 - its smallest q; `regions` groups flagged rows into row ranges and clusters. Without a
reference every source uses the candidate's own distribution as its null and copies are not
looked for; without a cascade only the data evidence runs; both are said in the result.
"""

from __future__ import annotations

from .config import LocalizeConfig
from .evidence import ISSUE_TYPES
from .localizer import localize
from .result import ROW_SCORES_FILE, LocalizeResult
from .stage import localize_stage

__all__ = [
    "ISSUE_TYPES",
    "ROW_SCORES_FILE",
    "LocalizeConfig",
    "LocalizeResult",
    "localize",
    "localize_stage",
]
