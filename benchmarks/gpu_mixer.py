"""Resonance token mixer vs FlashAttention, and a resonance_tiny training step vs a 76M GPT,
in one run on one GPU.

Part 0 (numerics): the fast mixer against the reference in fp32, and both under bf16
autocast against the fp32 reference.

Part 1 (block): one token-mixing layer of width 768 with its in/out projections, forward +
backward, bf16 autocast, a fixed number of tokens per step (batch = tokens / L): the
Resonance mixer (reference, fast, fast + torch.compile, fast + activation checkpointing from
64K) against causal SDPA restricted to the flash kernel (12 heads of 64). Tokens/s, peak
memory, memory kept for backward and their ratios to flash at every length.

Part 2 (model): a whole training step (forward, cross-entropy, backward, fused AdamW) of the
`resonance_tiny` preset (reference and fast mixer, fast + compiled mixer) against a 76M GPT
(pre-norm, SDPA flash attention, tied embeddings, vocabulary 50,257, d 512, 16 layers, 8 heads)
under torch.compile, at the same tokens per step.

    python benchmarks/gpu_mixer.py --out gpu_mixer.json             # needs a CUDA GPU
    python benchmarks/gpu_mixer.py --cpu-smoke --out smoke.json      # tiny sizes on CPU

Without CUDA (and without --cpu-smoke) it prints one line and exits with status 2.
--cpu-smoke proves the script end to end on tiny sizes: its timings are not performance
figures. The goals (ratios in one run) are evaluated only on CUDA.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn
from torch.utils.checkpoint import checkpoint

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from synthos.models.resonance import (  # noqa: E402
    AdvancedSpectralGating,
    ResonanceConfig,
    ResonanceNN,
)

NO_GPU_STATUS = 2
GPT_VOCAB = 50257


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the GPU run and the CPU smoke run."""

    width: int = 768
    heads: int = 12
    lengths: tuple[int, ...] = (1024, 4096, 16384, 65536, 131072)
    tokens: int = 65536
    checkpoint_from: int = 65536
    model_preset: str = "resonance_tiny"
    model_vocab: int = GPT_VOCAB
    model_overrides: dict[str, Any] = field(default_factory=dict)
    gpt: dict[str, int] = field(
        default_factory=lambda: {"d_model": 512, "n_layers": 16, "n_heads": 8}
    )
    model_lengths: tuple[int, ...] = (2048, 8192, 16384)
    model_tokens: int = 65536
    warmup: int = 2
    steps: int = 5


GPU_SIZES = Sizes()
SMOKE_SIZES = Sizes(
    width=64,
    heads=4,
    lengths=(64, 256),
    tokens=512,
    checkpoint_from=256,
    model_vocab=512,
    model_overrides={"d_model": 64, "n_layers": 2, "n_heads": 4},
    gpt={"d_model": 64, "n_layers": 2, "n_heads": 4},
    model_lengths=(64, 128),
    model_tokens=256,
    warmup=1,
    steps=2,
)


# --------------------------------------------------------------------------- baselines
class CausalAttentionLayer(nn.Module):
    """The token mixer a user would otherwise pick: qkv projection, causal SDPA, output
    projection (no norm, no FFN: the same scope as `AdvancedSpectralGating`)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.out_proj = nn.Linear(width, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(y.transpose(1, 2).reshape(b, length, d))


class GPTBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn_norm, self.ffn_norm = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = CausalAttentionLayer(width, heads)
        self.ffn = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x))
        return x + self.ffn(self.ffn_norm(x))


class GPT(nn.Module):
    """A GPT-2-style decoder: learned positions, pre-norm blocks, tied embeddings."""

    def __init__(self, vocab: int, d_model: int, n_layers: int, n_heads: int, max_len: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(GPTBlock(d_model, n_heads) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens) + self.positions(
            torch.arange(tokens.shape[1], device=tokens.device)
        )
        for block in self.blocks:
            x = block(x)
        return self.norm(x) @ self.embedding.weight.T

    def parameter_count(self) -> int:
        """Without the position table (its size depends on the context only)."""
        return sum(p.numel() for p in self.parameters()) - self.positions.weight.numel()


# --------------------------------------------------------------------------- measuring
@dataclass
class Measurement:
    part: str
    name: str
    length: int
    batch: int
    tokens_per_s: float | None = None
    ms_per_step: float | None = None
    peak_gib: float | None = None
    saved_mib: float | None = None
    params: int | None = None
    note: str | None = None
    error: str | None = None


class Clock:
    """Seconds of `steps` calls after `warmup` calls: CUDA events on a GPU, wall clock on CPU."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def seconds_per_call(self, fn: Callable[[], None], warmup: int, steps: int) -> float:
        for _ in range(warmup):
            fn()
        if self.device.type != "cuda":
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            return (time.perf_counter() - start) / steps
        torch.cuda.synchronize()
        begin = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        begin.record()
        for _ in range(steps):
            fn()
        end.record()
        torch.cuda.synchronize()
        return begin.elapsed_time(end) / 1e3 / steps


def reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: torch.device) -> float | None:
    """Peak allocated GPU memory; None on CPU (no comparable counter)."""
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated() / 2**30


def saved_for_backward_mib(step: Callable[[], None]) -> float:
    """MiB of distinct storage autograd keeps for backward during one step: the activation
    memory, measurable on any device (a storage saved by several ops counts once)."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        step()
    return sum(storages.values()) / 2**20


def flash_only(device: torch.device):
    """SDPA restricted to the flash kernel on CUDA (a silent fallback would not be flash)."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(SDPBackend.FLASH_ATTENTION)


def measure(
    part: str,
    name: str,
    length: int,
    batch: int,
    build: Callable[[], tuple[Callable[[], None], int]],
    device: torch.device,
    sizes: Sizes,
    note: str | None = None,
) -> Measurement:
    """Build (fresh memory counters), time, and record; any failure (OOM, compile) is
    recorded as the measurement's error, and the run goes on."""
    row = Measurement(part, name, length, batch, note=note)
    step = None
    try:
        reset_memory(device)
        step, row.params = build()
        seconds = Clock(device).seconds_per_call(step, sizes.warmup, sizes.steps)
        row.ms_per_step = seconds * 1e3
        row.tokens_per_s = batch * length / seconds
        row.peak_gib = peak_gib(device)
        with contextlib.suppress(Exception):  # extra figure: never costs the timing
            row.saved_mib = saved_for_backward_mib(step)
    except Exception as exc:
        row.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    finally:
        del step
        reset_memory(device)
    print(json.dumps(asdict(row)), flush=True)
    return row


# --------------------------------------------------------------------------- part 1: block
def mixer_config(sizes: Sizes, impl: str, compiled: bool = False) -> ResonanceConfig:
    return ResonanceConfig(
        vocab_size=None,
        n_features=1,
        d_model=sizes.width,
        n_heads=sizes.heads,
        n_freqs=64,
        max_seq_len=max(sizes.lengths),
        mixer_impl=impl,
        compile_mixer=compiled,
    )


def layer_step(
    layer: nn.Module, batch: int, length: int, device: torch.device, checkpointed: bool = False
) -> tuple[Callable[[], None], int]:
    """Forward + backward of one layer under bf16 autocast (fp32 master weights)."""
    layer = layer.to(device)
    x = torch.randn(batch, length, layer_width(layer), device=device, requires_grad=True)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16), flash_only(device):
            y = checkpoint(layer, x, use_reentrant=False) if checkpointed else layer(x)
        y.float().square().mean().backward()

    return step, sum(p.numel() for p in layer.parameters())


def layer_width(layer: nn.Module) -> int:
    return layer.out_proj.out_features


def block_variants(sizes: Sizes, length: int, device: torch.device):
    """(name, builder of the layer, checkpointed, note) for one length."""
    variants = [
        ("sdpa_flash", lambda: CausalAttentionLayer(sizes.width, sizes.heads), False, None),
        (
            "resonance_reference",
            lambda: AdvancedSpectralGating(mixer_config(sizes, "reference")),
            False,
            None,
        ),
        (
            "resonance_fast",
            lambda: AdvancedSpectralGating(mixer_config(sizes, "fast")),
            False,
            None,
        ),
    ]
    if device.type == "cuda":
        variants.append(
            (
                "resonance_fast_compiled",
                lambda: AdvancedSpectralGating(mixer_config(sizes, "fast", compiled=True)),
                False,
                "torch.compile of the conv + gating",
            )
        )
    if length >= sizes.checkpoint_from:
        variants.append(
            (
                "resonance_fast_checkpointed",
                lambda: AdvancedSpectralGating(mixer_config(sizes, "fast")),
                True,
                "activation checkpointing of the layer",
            )
        )
    return variants


def run_block_part(sizes: Sizes, device: torch.device) -> list[Measurement]:
    rows = []
    for length in sizes.lengths:
        batch = max(1, sizes.tokens // length)
        for name, make, checkpointed, note in block_variants(sizes, length, device):
            torch.manual_seed(0)
            rows.append(
                measure(
                    "block",
                    name,
                    length,
                    batch,
                    lambda make=make, ckpt=checkpointed, b=batch, n=length: layer_step(
                        make(), b, n, device, ckpt
                    ),
                    device,
                    sizes,
                    note,
                )
            )
    return rows


# --------------------------------------------------------------------------- numerics
def relative_error(y: torch.Tensor, truth: torch.Tensor) -> float:
    return ((y.float() - truth.float()).abs().max() / truth.float().abs().max()).item()


def mixer_outputs(layer: nn.Module, x: torch.Tensor, bf16: bool) -> tuple[torch.Tensor, ...]:
    """Output and input gradient of one forward + backward (weighted sum as the loss)."""
    x = x.clone().requires_grad_()
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        y = layer(x)
    weights = torch.randn(
        y.shape, device=x.device, generator=torch.Generator(x.device).manual_seed(1)
    )
    (y.float() * weights).sum().backward()
    return y.detach().float(), x.grad.float()


def run_numerics_part(sizes: Sizes, device: torch.device) -> dict[str, Any]:
    """Fast vs reference in fp32 (must agree to round-off), and both under bf16 autocast
    against the fp32 reference (the fast path's error beside the reference's own)."""
    length = min(sizes.lengths[0], 1024)
    torch.manual_seed(0)
    reference = AdvancedSpectralGating(mixer_config(sizes, "reference")).to(device)
    fast = AdvancedSpectralGating(mixer_config(sizes, "fast")).to(device)
    fast.load_state_dict(reference.state_dict())
    x = torch.randn(2, length, sizes.width, device=device)
    exact = mixer_outputs(reference, x, bf16=False)
    fast32 = mixer_outputs(fast, x, bf16=False)
    ref16 = mixer_outputs(reference, x, bf16=True)
    fast16 = mixer_outputs(fast, x, bf16=True)

    def errors(measured: tuple[torch.Tensor, ...]) -> dict[str, float]:
        return {
            "output": relative_error(measured[0], exact[0]),
            "input_grad": relative_error(measured[1], exact[1]),
        }

    result = {
        "length": length,
        "batch": 2,
        "fp32_fast_vs_reference": errors(fast32),
        "bf16_fast_vs_fp32_reference": errors(fast16),
        "bf16_reference_vs_fp32_reference": errors(ref16),
    }
    print(json.dumps({"part": "numerics", **result}), flush=True)
    return result


# --------------------------------------------------------------------------- part 2: model
def resonance_preset(sizes: Sizes, impl: str, compiled: bool) -> ResonanceNN:
    fields = OmegaConf.to_container(
        OmegaConf.load(ROOT / "synthos" / "conf" / "model" / f"{sizes.model_preset}.yaml").net
    )
    fields.update(sizes.model_overrides)
    fields["max_seq_len"] = max(fields["max_seq_len"], *sizes.model_lengths)
    return ResonanceNN(
        ResonanceConfig(
            vocab_size=sizes.model_vocab, mixer_impl=impl, compile_mixer=compiled, **fields
        )
    )


def training_step(
    model: nn.Module, batch: int, length: int, vocab: int, device: torch.device, compiled: bool
) -> tuple[Callable[[], None], int]:
    """One optimizer step on random tokens: forward, fp32 cross-entropy, backward, AdamW."""
    model = model.to(device)
    params = (
        model.parameter_count()
        if isinstance(model, GPT)
        else sum(p.numel() for p in model.parameters())
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    forward = torch.compile(model) if compiled else model
    tokens = torch.randint(0, vocab, (batch, length + 1), device=device)

    def step() -> None:
        # SDPA picks its kernel itself here (flash for bf16 causal attention on recent GPUs),
        # as in a user's training run.
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = forward(tokens[:, :-1])
            loss = F.cross_entropy(logits.flatten(0, 1).float(), tokens[:, 1:].flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, params


def run_model_part(sizes: Sizes, device: torch.device) -> list[Measurement]:
    on_cuda = device.type == "cuda"
    vocab = sizes.model_vocab
    rows = []
    for length in sizes.model_lengths:
        batch = max(1, sizes.model_tokens // length)

        def gpt(length=length):
            return GPT(vocab, max_len=length, **sizes.gpt)

        variants: list[tuple[str, Callable[[], nn.Module], bool]] = [
            ("gpt_compiled" if on_cuda else "gpt_eager", gpt, on_cuda),
            ("resonance_reference", lambda: resonance_preset(sizes, "reference", False), False),
            ("resonance_fast", lambda: resonance_preset(sizes, "fast", False), False),
        ]
        if on_cuda:
            variants.append(
                ("resonance_fast_compiled", lambda: resonance_preset(sizes, "fast", True), False)
            )
        for name, make, compiled in variants:
            torch.manual_seed(0)
            rows.append(
                measure(
                    "model",
                    name,
                    length,
                    batch,
                    lambda make=make, compiled=compiled, b=batch, n=length: training_step(
                        make(), b, n, vocab, device, compiled
                    ),
                    device,
                    sizes,
                )
            )
    return rows


# --------------------------------------------------------------------------- reporting
BLOCK_BASELINE = "sdpa_flash"
#: (part, length, minimum tokens/s ratio to the baseline) from the issue's goals.
SPEED_GOALS = [("block", 4096, 1.0), ("block", 16384, 3.0), ("block", 131072, 10.0)]
MODEL_GOALS = [("model", 2048, 1.0), ("model", 16384, 2.0)]
#: (part, length, maximum peak-memory ratio to the baseline).
MEMORY_GOALS = [("block", 131072, 2.0), ("model", 2048, 1.0), ("model", 16384, 1.0)]


def best_resonance(rows: list[Measurement], part: str, length: int) -> Measurement | None:
    candidates = [
        r
        for r in rows
        if r.part == part
        and r.length == length
        and r.name.startswith("resonance_fast")
        and r.tokens_per_s
    ]
    return max(candidates, key=lambda r: r.tokens_per_s, default=None)


def baseline_row(rows: list[Measurement], part: str, length: int) -> Measurement | None:
    return next(
        (
            r
            for r in rows
            if r.part == part and r.length == length and r.name.startswith(("sdpa", "gpt"))
        ),
        None,
    )


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def goals(rows: list[Measurement], on_cuda: bool) -> list[dict[str, Any]]:
    """Each goal of the issue with the best fast-path figure, its ratio and met (None when
    a figure is missing or the run was not on a GPU)."""
    out = []
    for part, length, minimum in SPEED_GOALS + MODEL_GOALS:
        best, base = best_resonance(rows, part, length), baseline_row(rows, part, length)
        value = ratio(best.tokens_per_s if best else None, base.tokens_per_s if base else None)
        out.append(
            {
                "goal": f"{part} tokens/s ratio at L={length} >= {minimum}",
                "variant": best.name if best else None,
                "ratio": value,
                "met": (value >= minimum) if (on_cuda and value is not None) else None,
            }
        )
    for part, length, maximum in MEMORY_GOALS:
        best, base = best_resonance(rows, part, length), baseline_row(rows, part, length)
        value = ratio(best.peak_gib if best else None, base.peak_gib if base else None)
        out.append(
            {
                "goal": f"{part} peak memory ratio at L={length} <= {maximum}",
                "variant": best.name if best else None,
                "ratio": value,
                "met": (value <= maximum) if (on_cuda and value is not None) else None,
            }
        )
    return out


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Measurement]) -> str:
    lines = [
        "| part | L | batch | variant | M tok/s | ms/step | peak GiB | saved MiB "
        "| x baseline tok/s | x baseline peak | x baseline saved |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        base = baseline_row(rows, r.part, r.length)
        speed = ratio(r.tokens_per_s, base.tokens_per_s) if base else None
        memory = ratio(r.peak_gib, base.peak_gib) if base else None
        saved = ratio(r.saved_mib, base.saved_mib) if base else None
        shown = r.error[:60] if r.error else fmt(r.tokens_per_s and r.tokens_per_s / 1e6, ".4g")
        lines.append(
            f"| {r.part} | {r.length} | {r.batch} | {r.name} | {shown} | "
            f"{fmt(r.ms_per_step, '.2f')} | {fmt(r.peak_gib, '.2f')} | {fmt(r.saved_mib, '.1f')} "
            f"| {fmt(speed, '.2f')} | {fmt(memory, '.2f')} | {fmt(saved, '.2f')} |"
        )
    return "\n".join(lines)


def environment(device: torch.device, mode: str) -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = None
    return {
        "mode": mode,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "commit": commit or None,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="gpu_mixer.json", help="JSON file for the results")
    parser.add_argument(
        "--cpu-smoke",
        action="store_true",
        help="run tiny sizes on CPU to check the script (not a performance figure)",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["numerics", "block", "model"],
        default=["numerics", "block", "model"],
    )
    parser.add_argument("--lengths", type=int, nargs="+", help="block lengths (override)")
    parser.add_argument("--width", type=int, help="block width (override)")
    parser.add_argument("--heads", type=int, help="block heads (override)")
    parser.add_argument("--tokens", type=int, help="block tokens per step (override)")
    parser.add_argument("--model-lengths", type=int, nargs="+", help="model lengths (override)")
    parser.add_argument("--steps", type=int, help="timed steps per measurement (override)")
    return parser.parse_args(argv)


def chosen_sizes(args: argparse.Namespace) -> Sizes:
    sizes = SMOKE_SIZES if args.cpu_smoke else GPU_SIZES
    overrides = {
        "lengths": tuple(args.lengths) if args.lengths else None,
        "width": args.width,
        "heads": args.heads,
        "tokens": args.tokens,
        "model_lengths": tuple(args.model_lengths) if args.model_lengths else None,
        "steps": args.steps,
    }
    return Sizes(**{**asdict(sizes), **{k: v for k, v in overrides.items() if v is not None}})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.cpu_smoke and not torch.cuda.is_available():
        print(
            "gpu_mixer: no CUDA GPU available (torch.cuda.is_available() is False); "
            "run it on a GPU machine, or pass --cpu-smoke to check the script on CPU",
            file=sys.stderr,
        )
        return NO_GPU_STATUS
    device = torch.device("cpu" if args.cpu_smoke else "cuda")
    sizes = chosen_sizes(args)
    mode = "cpu-smoke (not a performance figure)" if args.cpu_smoke else "gpu"
    env = environment(device, mode)
    print(json.dumps(env), flush=True)
    numerics = run_numerics_part(sizes, device) if "numerics" in args.parts else None
    rows = []
    if "block" in args.parts:
        rows += run_block_part(sizes, device)
    if "model" in args.parts:
        rows += run_model_part(sizes, device)
    result = {
        **env,
        "sizes": asdict(sizes),
        "numerics": numerics,
        "measurements": [asdict(r) for r in rows],
        "goals": goals(rows, device.type == "cuda"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\n# {mode}, {env['device']}, torch {env['torch']}, {env['date']}\n")
    print(table(rows))
    print()
    if numerics is not None:
        print(f"numerics (max relative error, L={numerics['length']}):")
        for key in ("fp32_fast_vs_reference", "bf16_fast_vs_fp32_reference"):
            print(f"  {key}: {json.dumps(numerics[key])}")
        print(
            f"  baseline bf16_reference: {json.dumps(numerics['bf16_reference_vs_fp32_reference'])}"
        )
    for goal in result["goals"]:
        print(f"goal: {goal['goal']}: ratio {fmt(goal['ratio'], '.2f')}, met {goal['met']}")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
