"""Resonance block vs a causal attention block of the same width, in one run.

Prints forward+backward tokens/s of each at several lengths and their ratio (baseline:
`torch.nn.functional.scaled_dot_product_attention(is_causal=True)` with the same norm, FFN and
projections), then the Resonance block's forward time from 4K to 64K with the fitted growth
exponent, to show O(L log L) rather than O(L^2).

    python benchmarks/block_throughput.py                      # CPU
    python benchmarks/block_throughput.py --device cuda --dtype bf16
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from datetime import date

import torch
import torch.nn.functional as F
from torch import nn

from synthos.models.common import GatedFFN, RMSNorm
from synthos.models.resonance import ResonanceConfig, SpectralMixerBlock


class AttentionBlock(nn.Module):
    """The baseline: pre-norm causal multi-head attention + the same gated FFN."""

    def __init__(self, d_model: int, n_heads: int, ffn_mult: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.attn_norm = RMSNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model, bias=False)
        self.ffn_norm = RMSNorm(d_model)
        self.ffn = GatedFFN(d_model, ffn_mult)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, length, 3, self.n_heads, -1).unbind(2)
        y = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        x = x + self.out_proj(y.transpose(1, 2).reshape(b, length, d))
        return x + self.ffn(self.ffn_norm(x))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_call(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of `repeats` calls after one warm-up call."""
    fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def fwd_bwd(block: nn.Module, x: torch.Tensor, dtype: torch.dtype):
    def run():
        block.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = block(x)
        out.float().pow(2).mean().backward()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument(
        "--scaling-lengths", type=int, nargs="+", default=[4096, 8192, 16384, 32768, 65536]
    )
    parser.add_argument("--tokens-per-batch", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    torch.manual_seed(0)
    config = ResonanceConfig(
        vocab_size=256,
        d_model=args.d_model,
        n_heads=args.heads,
        n_freqs=64,
        max_seq_len=max(args.scaling_lengths + args.lengths),
    )
    resonance = SpectralMixerBlock(config).to(device)
    attention = AttentionBlock(args.d_model, args.heads, config.ffn_mult).to(device)
    print(
        f"# {date.today()} {platform.processor() or platform.machine()} device={device} "
        f"dtype={args.dtype} d_model={args.d_model} heads={args.heads} torch={torch.__version__}"
    )
    print(
        f"# params: resonance block {sum(p.numel() for p in resonance.parameters()):,}, "
        f"attention block {sum(p.numel() for p in attention.parameters()):,}"
    )

    rows = []
    print("\n| L | batch | resonance tok/s | attention tok/s | resonance / attention |")
    print("|---|---|---|---|---|")
    for length in args.lengths:
        batch = max(1, args.tokens_per_batch // length)
        x = torch.randn(batch, length, args.d_model, device=device, requires_grad=True)
        t_res = time_call(fwd_bwd(resonance, x, dtype), device, args.repeats)
        t_att = time_call(fwd_bwd(attention, x, dtype), device, args.repeats)
        tokens = batch * length
        row = dict(
            length=length,
            batch=batch,
            resonance_tok_s=tokens / t_res,
            attention_tok_s=tokens / t_att,
            ratio=t_att / t_res,
        )
        rows.append(row)
        print(
            f"| {length} | {batch} | {row['resonance_tok_s']:,.0f} | "
            f"{row['attention_tok_s']:,.0f} | {row['ratio']:.2f}x |"
        )

    print("\n| L | resonance forward s | s / (L log2 L) relative to first |")
    print("|---|---|---|")
    scaling = []
    with torch.no_grad():
        for length in args.scaling_lengths:
            x = torch.randn(1, length, args.d_model, device=device)

            def forward(x=x):
                with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                    resonance(x)

            seconds = time_call(forward, device, args.repeats)
            scaling.append((length, seconds))
    base_len, base_t = scaling[0]
    for length, seconds in scaling:
        rel = (seconds / (length * math.log2(length))) / (base_t / (base_len * math.log2(base_len)))
        print(f"| {length} | {seconds:.4f} | {rel:.2f} |")
    xs = [math.log(n) for n, _ in scaling]
    ys = [math.log(t) for _, t in scaling]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=True)) / sum(
        (a - mx) ** 2 for a in xs
    )
    print(
        f"\nfitted growth: time ~ L^{slope:.2f} (L log L gives ~1.05-1.1 over this range; "
        "attention's O(L^2) gives 2)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "throughput": rows,
                    "scaling": scaling,
                    "exponent": slope,
                    "device": str(device),
                    "dtype": args.dtype,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
