"""Shared helpers for the golden-fixture generators (tools/parity).

Requirements (installed by the user, never by these scripts): see
tools/parity/requirements.txt (torch, vector-quantize-pytorch, safetensors,
numpy, pinned). The file format is documented in docs/parity-fixtures.md.

Every generator builds one case at a time and hands a dict of tensors plus
metadata to `write_case`, which validates names/dtypes and writes
tests/fixtures/<module>/<case>.safetensors.
"""

import importlib.metadata
import json
import os
from contextlib import contextmanager

import struct

import torch

FORMAT = "vqcpp-fixture/1"
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE_ROOT = os.path.join(REPO_ROOT, "tests", "fixtures")

REF_VERSION = importlib.metadata.version("vector-quantize-pytorch")
TORCH_VERSION = torch.__version__.split("+")[0]

# every case written in this run, for the index / doc table
WRITTEN = []


def setup_torch():
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


def to_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _normalize_tensor(name, t):
    t = t.detach().cpu()
    if t.dtype == torch.bool:
        pass
    elif t.is_floating_point():
        t = t.to(torch.float32)
    elif name == "indices" or name.endswith(".indices") or t.dtype in (torch.int32, torch.int16, torch.int8, torch.uint8):
        t = t.to(torch.int64)
    else:
        t = t.to(torch.int64)
    return t.contiguous().clone()


def write_case(*, module, case_name, kind, config, mode, seed, case, tensors,
               call=None, extra_meta=None):
    """Writes tests/fixtures/<module>/<case_name>.safetensors."""
    meta = {
        "format": FORMAT,
        "kind": kind,
        "module": module,
        "config": to_json(config),
        "call": to_json(call or {}),
        "case": case,
        "mode": mode,
        "ref_version": REF_VERSION,
        "torch_version": TORCH_VERSION,
        "seed": str(seed),
    }
    for k, v in (extra_meta or {}).items():
        meta[k] = v if isinstance(v, str) else to_json(v)

    out = {}
    for name, t in tensors.items():
        if t is None:
            continue
        assert isinstance(t, torch.Tensor), name
        out[name] = _normalize_tensor(name, t)
        assert torch.isfinite(out[name].float()).all() or name.startswith("state"), \
            f"{module}/{case_name}: non-finite values in {name}"

    directory = os.path.join(FIXTURE_ROOT, module)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, case_name + ".safetensors")
    save_safetensors(out, meta, path)
    WRITTEN.append((module, case_name, mode, case, os.path.getsize(path)))
    return path


_DTYPES = {torch.float32: ("F32", 4), torch.int64: ("I64", 8), torch.bool: ("BOOL", 1)}


def save_safetensors(tensors, metadata, path):
    """Byte-reproducible safetensors writer (the safetensors package stores the
    metadata map in hash order, so its files differ run to run). Layout as the
    reference implementation: tensors ordered by element size (descending) then
    name, so every offset is aligned; header JSON with sorted keys, padded with
    spaces to a multiple of 8 bytes. Files load with safetensors' own loader."""
    order = sorted(tensors, key=lambda n: (-_DTYPES[tensors[n].dtype][1], n))
    header = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for name in order:
        t = tensors[name]
        code, _ = _DTYPES[t.dtype]
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def state_snapshot(module, prefix):
    return {prefix + k: v.detach().clone() for k, v in module.state_dict().items()}


def parameter_names(module):
    """State-dict names of trainable parameters (state_dict keeps param names)."""
    state_keys = set(module.state_dict().keys())
    return sorted(n for n, p in module.named_parameters() if n in state_keys)


def param_grads(module):
    out = {}
    for n, p in module.named_parameters():
        if p.grad is not None:
            out["grad." + n] = p.grad.detach().clone()
    return out


# ---------------------------------------------------------------- margins

def top_gap(scores, k=1):
    """Smallest gap between consecutive scores among the k+1 best along the
    last axis (k=1: best vs second best; top-k also needs its order and the
    k-th vs (k+1)-th boundary to be clear)."""
    if scores.shape[-1] < 2:
        return float("inf")
    top = scores.detach().float().topk(min(k + 1, scores.shape[-1]), dim=-1).values
    return float((top[..., :-1] - top[..., 1:]).min())


class MarginRecorder:
    """Collects decision margins of the reference's own intermediate values."""

    def __init__(self):
        self.values = []

    def add(self, v):
        self.values.append(float(v))

    @property
    def margin(self):
        return min(self.values) if self.values else float("inf")


@contextmanager
def record_vq_margins(module, k=1):
    """Forward hooks on every Codebook: its third output is the similarity S."""
    rec = MarginRecorder()
    handles = []
    from vector_quantize_pytorch.vector_quantize_pytorch import Codebook

    def hook(_mod, _inp, out):
        rec.add(top_gap(out[2], k))

    for m in module.modules():
        if isinstance(m, Codebook):
            handles.append(m.register_forward_hook(hook))
    try:
        yield rec
    finally:
        for h in handles:
            h.remove()


@contextmanager
def record_fsq_margins():
    """Wraps the FSQ module's round/floor straight-through helpers: the margin is
    the distance of each rounded value to the nearest rounding boundary."""
    import vector_quantize_pytorch.finite_scalar_quantization as fsq_mod

    rec = MarginRecorder()
    orig_round, orig_floor = fsq_mod.round_ste, fsq_mod.floor_ste

    def round_ste(z):
        frac = (z.detach() - z.detach().floor())
        rec.add(float((frac - 0.5).abs().min()))
        return orig_round(z)

    def floor_ste(z):
        d = z.detach()
        rec.add(float((d - d.round()).abs().min()))
        return orig_floor(z)

    fsq_mod.round_ste, fsq_mod.floor_ste = round_ste, floor_ste
    try:
        yield rec
    finally:
        fsq_mod.round_ste, fsq_mod.floor_ste = orig_round, orig_floor


@contextmanager
def record_lfq_margins(module):
    """Sign decisions of LFQ: min |value| entering the quantizer, taken from
    every LFQ's project_in output (soft clamp / l2norm keep the sign)."""
    from vector_quantize_pytorch import LFQ

    rec = MarginRecorder()
    handles = []

    def hook(_mod, _inp, out):
        rec.add(float(out.detach().abs().min()))

    for m in module.modules():
        if isinstance(m, LFQ):
            handles.append(m.project_in.register_forward_hook(hook))
    try:
        yield rec
    finally:
        for h in handles:
            h.remove()
