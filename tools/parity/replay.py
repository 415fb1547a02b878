#!/usr/bin/env python3
"""Replays fixture files against the installed reference, the way the C++
replayer must (docs/parity-fixtures.md): build from `config`, load
`state_in.*` strictly, run the call, compare every expected output.

It proves the files are self-contained: the global seed is set to an
unrelated value before building, so nothing may depend on the module's own
random initialization or on torch's random stream.

    python tools/parity/replay.py                      # every fixture
    python tools/parity/replay.py tests/fixtures/FSQ/levels_8555_eval.safetensors
"""

import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from safetensors import safe_open  # noqa: E402

import common  # noqa: E402
from make_fixtures import GROUPS, INPUT_NAMES, INPUT_PREFIXES  # noqa: E402
from quantizer_case import parse_outputs  # noqa: E402
from vq_callables import materialize  # noqa: E402
import gen_autoencoder  # noqa: E402


def load(path):
    with safe_open(path, "pt") as f:
        return f.metadata(), {k: f.get_tensor(k) for k in f.keys()}


def strip(prefix, tensors):
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def replay_quantizer(meta, t, dtype=torch.float32):
    import vector_quantize_pytorch as vqp

    cfg, call = json.loads(meta["config"]), json.loads(meta["call"])
    mod = getattr(vqp, meta["module"])(**materialize(meta["module"], cfg)).to(dtype)
    mod.load_state_dict(strip("state_in.", t), strict=True)
    mod.train(meta["mode"] == "train")
    x = t["x"].clone().requires_grad_(meta["x_requires_grad"] == "true")
    kw = dict(call)
    for k in ("mask", "lens"):
        if k in t:
            kw[k] = t[k]
    outs = parse_outputs(meta["module"], mod(x, **kw))
    got = {k: v.detach() for k, v in outs.items() if v is not None}
    if "grad_output" in t:
        roots, grads = [], []
        if outs["quantized"].requires_grad:
            roots.append(outs["quantized"]), grads.append(t["grad_output"])
        if "grad_loss" in t:
            roots.append(outs["loss"]), grads.append(t["grad_loss"])
        if roots:
            torch.autograd.backward(roots, grads)
        got["grad.x"] = x.grad if x.grad is not None else torch.zeros_like(x)
        got.update(common.param_grads(mod))
    with torch.no_grad():
        if "codes_from_indices" in t:
            got["codes_from_indices"] = mod.indices_to_codes(outs["indices"])
        if "output_from_indices" in t:
            got["output_from_indices"] = mod.get_output_from_indices(outs["indices"])
    if meta["mode"] == "train":
        got.update({"state." + k: v for k, v in mod.state_dict().items()})
    return got


def replay_layer(meta, t, dtype=torch.float32):
    mod = getattr(torch.nn, meta["module"])(**json.loads(meta["config"])).to(dtype)
    mod.load_state_dict(strip("state_in.", t), strict=True)
    x = t["x"].clone().requires_grad_(True)
    y = mod(x)
    y.backward(t["grad_output"])
    got = {"y": y.detach(), "grad.x": x.grad}
    got.update(common.param_grads(mod))
    return got


def replay_optimizer(meta, t, dtype=torch.float32):
    cfg = json.loads(meta["config"])
    if "betas" in cfg:
        cfg["betas"] = tuple(cfg["betas"])
    params = {k: torch.nn.Parameter(v.clone()) for k, v in strip("param.", t).items()}
    opt = getattr(torch.optim, meta["module"])(list(params.values()), **cfg)
    got = {}
    for i in range(int(meta["steps"])):
        for k, p in params.items():
            p.grad = t[f"grad_step.{i}.{k}"].clone()
        opt.step()
        for k, p in params.items():
            got[f"param_step.{i}.{k}"] = p.detach().clone()
    return got


def replay_function(meta, t, dtype=torch.float32):
    cfg = json.loads(meta["config"])
    grads = strip("grad_in.", t)
    params = {k: torch.nn.Parameter(torch.zeros_like(v)) for k, v in grads.items()}
    for k, p in params.items():
        p.grad = grads[k].clone()
    total = getattr(torch.nn.utils, meta["module"])(list(params.values()), **cfg)
    got = {f"grad_out.{k}": p.grad for k, p in params.items()}
    got["total_norm"] = total
    return got


REPLAY = {"quantizer": replay_quantizer, "layer": replay_layer,
          "optimizer": replay_optimizer, "function": replay_function,
          "model_steps": gen_autoencoder.run_steps}


def compare(path, meta, t, got):
    rtol = float(meta.get("rtol", 1e-5))
    atol = float(meta.get("atol", 1e-6))
    expected = {k: v for k, v in t.items() if k not in INPUT_NAMES and not k.startswith(INPUT_PREFIXES)}
    errors = []
    for k in sorted(set(expected) | set(got)):
        if k not in got:
            errors.append(f"{k}: expected but not produced")
            continue
        if k not in expected:
            errors.append(f"{k}: produced but not in the file")
            continue
        e, g = expected[k], got[k].detach().cpu()
        if tuple(e.shape) != tuple(g.shape):
            errors.append(f"{k}: shape {tuple(g.shape)} != {tuple(e.shape)}")
        elif e.dtype in (torch.int64, torch.bool):
            if not torch.equal(e, g.to(e.dtype)):
                errors.append(f"{k}: exact mismatch")
        elif not torch.allclose(g.float(), e, rtol=rtol, atol=atol):
            errors.append(f"{k}: max abs diff {(g.float() - e).abs().max().item():.3g}")
    return errors


def main():
    paths = sys.argv[1:]
    if not paths:
        for _, folders in GROUPS.values():
            for folder in folders:
                d = os.path.join(common.FIXTURE_ROOT, folder)
                paths += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".safetensors"))
    common.setup_torch()
    failed = 0
    for path in paths:
        torch.manual_seed(987654321)
        meta, t = load(path)
        errors = compare(path, meta, t, REPLAY[meta["kind"]](meta, t))
        rel = os.path.relpath(path, common.REPO_ROOT)
        if errors:
            failed += 1
            print(f"FAIL {rel}: " + "; ".join(errors))
    print(f"{len(paths) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
