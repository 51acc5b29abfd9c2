"""`synthos validate`: detect, localize and recommend in one run directory, each stage reused
from the directory's cache when its inputs did not change, and every validation after the
first shown beside the one before it.

    from synthos.validate import validate
    result = validate("synthetic.parquet", "real.parquet", run_dir="runs/v1")
    # after applying a fix:
    result = validate("runs/v1/validations/01-synthetic/fixes/drop_exact_duplicates.parquet",
                      "real.parquet", run_dir="runs/v1")
    result.report["before_after"]
"""

from __future__ import annotations

from .compare import before_after
from .history import RunHistory
from .pipeline import ValidateOptions, ValidateResult, validate

__all__ = ["RunHistory", "ValidateOptions", "ValidateResult", "before_after", "validate"]
