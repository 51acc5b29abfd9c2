"""What an installed Synthos carries: a wheel holds the Hydra configs and the data files the
library reads, so training and the gRPC server work without a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import CONF_DIR, ROOT


def test_the_wheel_carries_configs_and_package_data(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("synthos-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = {f"synthos/conf/{p.relative_to(CONF_DIR)}" for p in CONF_DIR.rglob("*.yaml")}
    assert "synthos/conf/train.yaml" in configs and configs <= names
    assert {
        "synthos/train.py",
        "synthos/analysis/collapse/thresholds.json",
        "synthos/report/report.schema.json",
    } <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "synthos-train = synthos.train:main" in text
