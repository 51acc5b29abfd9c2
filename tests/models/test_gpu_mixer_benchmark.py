"""benchmarks/gpu_mixer.py end to end: a clear exit without a GPU, and the CPU smoke run."""

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.gpu_mixer import GPT, NO_GPU_STATUS, main

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_mixer.py"


def test_without_a_gpu_it_exits_2_with_one_line(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == NO_GPU_STATUS
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no CUDA GPU" in lines[0] and "--cpu-smoke" in lines[0]
    assert proc.stdout == "" and not out.exists()


def test_cpu_smoke_runs_every_part_and_writes_json(tmp_path, capsys):
    out = tmp_path / "smoke.json"
    assert main(["--cpu-smoke", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["mode"].startswith("cpu-smoke") and result["device"] == "cpu"
    rows = result["measurements"]
    assert all(r["error"] is None for r in rows), [r["error"] for r in rows if r["error"]]
    block = {(r["name"], r["length"]) for r in rows if r["part"] == "block"}
    for length in (64, 256):
        for name in ("sdpa_flash", "resonance_reference", "resonance_fast"):
            assert (name, length) in block
    assert ("resonance_fast_checkpointed", 256) in block
    model = {(r["name"], r["length"]) for r in rows if r["part"] == "model"}
    assert model == {
        (name, length)
        for name in ("gpt_eager", "resonance_reference", "resonance_fast")
        for length in (64, 128)
    }
    for r in rows:
        assert r["tokens_per_s"] > 0 and r["batch"] * r["length"] in (512, 256)
        assert r["peak_gib"] is None  # no CUDA memory counter on CPU
        assert r["saved_mib"] > 0
    saved = {(r["name"], r["length"]): r["saved_mib"] for r in rows if r["part"] == "block"}
    for length in (64, 256):
        assert saved[("resonance_fast", length)] < 0.75 * saved[("resonance_reference", length)]
    assert saved[("resonance_fast_checkpointed", 256)] < saved[("sdpa_flash", 256)]
    numerics = result["numerics"]
    assert max(numerics["fp32_fast_vs_reference"].values()) <= 1e-5
    assert 0 < max(numerics["bf16_fast_vs_fp32_reference"].values()) <= 2e-2
    # Goals are judged only on a GPU.
    assert result["goals"] and all(g["met"] is None for g in result["goals"])
    printed = capsys.readouterr().out
    assert "| block | 256 | 2 | resonance_fast |" in printed and str(out) in printed


def test_gpt_baseline_has_the_anchor_size():
    """d 512, 16 layers, 8 heads, vocabulary 50,257, tied: 76.2M without positions."""
    import torch

    with torch.device("meta"):
        gpt = GPT(50257, d_model=512, n_layers=16, n_heads=8, max_len=2048)
    assert abs(gpt.parameter_count() - 76.2e6) / 76.2e6 < 0.005
