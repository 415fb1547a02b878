"""Per-file tolerances from a float64 re-run.

Each fixture is replayed with the module, inputs and state in float64 (the
reference's explicit float32 casts are made no-ops for the duration), and
for every expected float output the ratio
    |f32 - f64| / (atol + rtol * |f64|)      (defaults rtol 1e-5, atol 1e-6)
is measured. It says how much of the default tolerance torch's own float32
rounding already uses. A correct float32 reimplementation may round
differently by about as much again, so where the largest ratio exceeds
HEADROOM the file gets rtol and atol scaled up to 4x that ratio
(metadata `rtol`, `atol`, plus `f32_error_ratio` for the record).
"""

import math
from contextlib import contextmanager

import torch

from replay import REPLAY, load
from make_fixtures import INPUT_NAMES, INPUT_PREFIXES
from common import save_safetensors

RTOL, ATOL = 1e-5, 1e-6
HEADROOM = 0.25


@contextmanager
def float64_everywhere():
    orig = torch.Tensor.float
    old_default = torch.get_default_dtype()
    torch.Tensor.float = lambda self, *a, **k: self if self.dtype == torch.float64 else orig(self, *a, **k)
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.Tensor.float = orig
        torch.set_default_dtype(old_default)


def error_ratio(meta, t):
    t64 = {k: (v.double() if v.is_floating_point() else v) for k, v in t.items()}
    with float64_everywhere():
        torch.manual_seed(987654321)
        got = REPLAY[meta["kind"]](meta, t64, dtype=torch.float64)
    worst, where = 0.0, None
    for k, e in t.items():
        if k in INPUT_NAMES or k.startswith(INPUT_PREFIXES) or not e.is_floating_point():
            if k in got and not e.is_floating_point() and not torch.equal(got[k].to(e.dtype), e):
                raise AssertionError(f"{k} differs between float32 and float64 (near tie?)")
            continue
        ref = got[k].detach().double()
        r = float(((e.double() - ref).abs() / (ATOL + RTOL * ref.abs())).max()) if e.numel() else 0.0
        if r > worst:
            worst, where = r, k
    return worst, where


def round_up(v):
    """1 significant digit, rounded up: 3.2e-5 -> 4e-5."""
    exp = math.floor(math.log10(v))
    mant = math.ceil(v / 10 ** exp - 1e-9)
    return float(f"{mant}e{exp}")


def apply(path):
    meta, t = load(path)
    ratio, where = error_ratio(meta, t)
    meta = dict(meta)
    meta.pop("rtol", None), meta.pop("atol", None), meta.pop("f32_error_ratio", None)
    if ratio > HEADROOM:
        scale = 4 * ratio
        meta["rtol"] = repr(round_up(RTOL * scale))
        meta["atol"] = repr(round_up(ATOL * scale))
        meta["f32_error_ratio"] = f"{ratio:.3g} ({where})"
    save_safetensors(t, meta, path)
    return ratio, where
