"""Generic runner for one quantizer case (VectorQuantize, FSQ, LFQ, SimVQ,
LatentQuantize and the residual families): builds the module from a JSON-able config, puts it in a
deterministic state, runs one forward (and optionally one backward with a
given output gradient) and writes the fixture described in
docs/parity-fixtures.md.
"""

from contextlib import contextmanager

import torch
import vector_quantize_pytorch as vqp

from common import (MarginRecorder, param_grads, parameter_names,
                    record_fsq_margins, record_lfq_margins, record_vq_margins,
                    state_snapshot, top_gap, write_case)
from vector_quantize_pytorch.vector_quantize_pytorch import Codebook
from vq_callables import materialize

MARGIN_KIND = {
    "VectorQuantize": "vq", "ResidualVQ": "vq",
    "FSQ": "fsq", "ResidualFSQ": "fsq",
    "LFQ": "lfq", "ResidualLFQ": "lfq",
    "GroupedResidualVQ": "vq", "GroupedResidualFSQ": "fsq", "GroupedResidualLFQ": "lfq",
    "SimVQ": "simvq", "ResidualSimVQ": "simvq", "LatentQuantize": "latent",
    "FSP": "fsp", "BinaryMapper": "binary", "HierarchicalVQ": "vq",
}

# minimum decision margin accepted (see index_margin in the format doc)
MIN_MARGIN = {"vq": 2e-3, "fsq": 2e-3, "lfq": 2e-3, "simvq": 2e-3, "latent": 2e-3, "fsp": 2e-3,
              "binary": 2e-3}


# ------------------------------------------------------------ state setters

@torch.no_grad()
def vq_state(codebook_scale=1.0, cluster_lo=0.5, cluster_hi=3.0):
    """Returns a prepare() that gives every Codebook well-separated random codes
    (standard normal times `codebook_scale`, l2-normalized under cosine),
    cluster sizes uniform in [lo, hi), embed_avg = embed * cluster_size
    (a consistent EMA state) and initted = True, so no k-means runs."""

    def prepare(module):
        for m in module.modules():
            if not isinstance(m, Codebook):
                continue
            embed = torch.randn_like(m.embed) * codebook_scale
            if m.use_cosine_sim:
                embed = torch.nn.functional.normalize(embed, dim=-1)
            cluster = torch.rand_like(m.cluster_size) * (cluster_hi - cluster_lo) + cluster_lo
            m.embed.data.copy_(embed)
            m.cluster_size.data.copy_(cluster)
            m.embed_avg.data.copy_(embed * cluster[..., None])
            m.initted.data.fill_(True)
            if getattr(m, "affine_param", False):
                # constructor leaves these uninitialized; they are overwritten
                # on the first training forward (needs_init flags are true)
                m.codebook_mean.data.zero_()
                m.codebook_variance.data.fill_(1.0)

    return prepare


# ------------------------------------------------------------ margins of SimVQ / LatentQuantize

@contextmanager
def record_simvq_margins(module):
    """Pre-hooks on every SimVQ: gap between the two smallest Euclidean distances
    of each token to the effective codebook (float64)."""
    from vector_quantize_pytorch import SimVQ

    rec = MarginRecorder()
    handles = []

    def hook(mod, inp):
        x = inp[0].detach()
        if mod.channel_first:
            x = x.movedim(1, -1)
        x = x.reshape(-1, x.shape[-1]).double()
        with torch.no_grad():
            c = mod.codebook.double()
        rec.add(top_gap(-torch.cdist(x, c), 1))

    for m in module.modules():
        if isinstance(m, SimVQ):
            handles.append(m.register_forward_pre_hook(hook))
    try:
        yield rec
    finally:
        for h in handles:
            h.remove()


@contextmanager
def record_latent_margins(module):
    """LatentQuantize.quantize per dimension: gap between the two smallest
    |z_i - value| over that dimension's value table."""
    rec = MarginRecorder()
    orig = module.quantize

    def quantize(z):
        for i in range(module.codebook_dim):
            v = module.values_per_latent[i].detach()
            rec.add(top_gap(-(z.detach()[..., i, None] - v).abs(), 1))
        return orig(z)

    module.quantize = quantize
    try:
        yield rec
    finally:
        del module.quantize


@contextmanager
def record_fsp_margins(module):
    """FSP.quantize_act_value: distance of min(a, 1 - eps) * L to the nearest
    integer (the floor boundary)."""
    rec = MarginRecorder()
    orig = module.quantize_act_value

    def quantize_act_value(act_z, eps):
        d = (act_z.detach().clamp_max(1.0 - eps) * module._levels).double()
        rec.add(float((d - d.round()).abs().min()))
        return orig(act_z, eps)

    module.quantize_act_value = quantize_act_value
    try:
        yield rec
    finally:
        del module.quantize_act_value


@contextmanager
def record_binary_margins(module, call):
    """BinaryMapper, deterministic: |logit / temperature| (distance of the
    probability to the 0.5 threshold, in logit units)."""
    rec = MarginRecorder()
    orig = module.forward
    temperature = float(call.get("temperature", 1.0))

    def forward(logits, *a, **k):
        rec.add(float((logits.detach() / temperature).abs().min()))
        return orig(logits, *a, **k)

    module.forward = forward
    try:
        yield rec
    finally:
        del module.forward


# ------------------------------------------------------------ output parsing

def parse_outputs(module_name, out):
    """-> dict name -> tensor (quantized, indices, loss, loss.<term>, all_codes)."""
    res = {}
    breakdown = None
    if module_name == "LFQ":
        if isinstance(out, tuple) and len(out) == 2 and hasattr(out[1], "_fields"):
            out, breakdown = out
        res["quantized"], res["indices"], res["loss"] = out.quantized, out.indices, out.entropy_aux_loss
    elif module_name in ("FSQ",):
        res["quantized"], res["indices"] = out
    elif module_name in ("ResidualFSQ", "GroupedResidualFSQ"):
        res["quantized"], res["indices"] = out[0], out[1]
        if len(out) > 2:
            res["all_codes"] = out[2]
    elif module_name in ("ResidualVQ", "ResidualLFQ", "GroupedResidualVQ", "GroupedResidualLFQ"):
        res["quantized"], res["indices"], res["loss"] = out[0], out[1], out[2]
        if len(out) > 3:
            res["all_codes"] = out[3]
    elif module_name in ("SimVQ", "LatentQuantize"):
        res["quantized"], res["indices"], res["loss"] = out
    elif module_name == "FSP":
        res["quantized"], res["indices"], res["loss"] = out[0], out[1], out[2]
    elif module_name == "BinaryMapper":
        # call must pass return_indices=True
        res["quantized"], res["indices"], res["loss"] = out
    elif module_name == "HierarchicalVQ":
        # the per-level index tensors (b, *level_shape), flattened and concatenated: (b, sum n_i)
        res["quantized"], res["loss"] = out[0], out[2]
        res["indices"] = torch.cat([i.reshape(i.shape[0], -1) for i in out[1]], dim=1)
    elif module_name == "ResidualSimVQ":
        res["quantized"], res["indices"], res["loss"] = out[0], out[1], out[2]
        if len(out) > 3:
            res["all_codes"] = out[3]
    elif module_name == "VectorQuantize":
        res["quantized"], res["indices"], res["loss"] = out[0], out[1], out[2]
        if len(out) > 3:
            breakdown = out[3]
    else:
        raise ValueError(module_name)
    if breakdown is not None:
        for field in breakdown._fields:
            v = getattr(breakdown, field)
            res["loss." + field] = v if isinstance(v, torch.Tensor) else torch.tensor(float(v))
    return res


# ------------------------------------------------------------ the runner

def run_case(*, module, name, case, config, mode, seed, x_shape, call=None,
             prepare=None, mask=None, lens=None, backward=True, grad_loss=None,
             decode=None, rtol=None, atol=None, note=None, x_scale=1.0,
             max_tries=50):
    """Generates one fixture. Uses torch seeds seed*1000, seed*1000+1, ...
    (first that works) so that every index decision has a margin >=
    MIN_MARGIN (indices are tie-free); the seed used is stored.

    mask / lens: callables (batch, n) -> tensor, or tensors.
    decode: None, "codes_from_indices" (FSQ/LFQ indices_to_codes) or
            "output_from_indices" (get_output_from_indices).
    grad_loss: None -> back-propagate through `loss` iff mode == train and the
            loss requires grad.
    """
    call = dict(call or {})
    cls = getattr(vqp, module)
    kind = MARGIN_KIND[module]
    for attempt in range(max_tries):
        s = seed * 1000 + attempt
        result = _run_once(cls, module, config, mode, s, x_shape, call, prepare,
                           mask, lens, backward, grad_loss, decode, x_scale, kind)
        if result["margin"] >= MIN_MARGIN[kind]:
            break
    else:
        raise RuntimeError(f"{module}/{name}: no tie-free seed found")

    extra = {
        "x_requires_grad": "true" if result["x_requires_grad"] else "false",
        "parameters": result["parameters"],
        "index_margin": f"{result['margin']:.6g}",
    }
    if rtol is not None:
        extra["rtol"] = repr(float(rtol))
    if atol is not None:
        extra["atol"] = repr(float(atol))
    if note:
        extra["note"] = note
    return write_case(module=module, case_name=name, kind="quantizer",
                      config=config, mode=mode, seed=result["seed"], case=case,
                      tensors=result["tensors"], call=call, extra_meta=extra)


def _materialize(spec, *args):
    if spec is None:
        return None
    if callable(spec):
        return spec(*args)
    return spec


def _run_once(cls, module_name, config, mode, seed, x_shape, call, prepare,
              mask, lens, backward, grad_loss, decode, x_scale, kind):
    torch.manual_seed(seed)
    mod = cls(**materialize(module_name, config))
    if prepare is not None:
        prepare(mod)
    mod.train(mode == "train")

    x = torch.randn(*x_shape) * x_scale
    m = _materialize(mask, x_shape)
    ln = _materialize(lens, x_shape)

    tensors = {"x": x.clone()}
    if m is not None:
        tensors["mask"] = m.clone()
    if ln is not None:
        tensors["lens"] = ln.clone()
    tensors.update(state_snapshot(mod, "state_in."))
    params = parameter_names(mod)

    kwargs = dict(call)
    if m is not None:
        kwargs["mask"] = m
    if ln is not None:
        kwargs["lens"] = ln

    x_in = x.clone().requires_grad_(bool(backward))
    mod.zero_grad(set_to_none=True)

    if kind == "vq":
        ctx = record_vq_margins(mod, k=int(call.get("topk") or config.get("beam_size") or 1))
    elif kind == "fsq":
        ctx = record_fsq_margins()
    elif kind == "simvq":
        ctx = record_simvq_margins(mod)
    elif kind == "latent":
        ctx = record_latent_margins(mod)
    elif kind == "fsp":
        ctx = record_fsp_margins(mod)
    elif kind == "binary":
        ctx = record_binary_margins(mod, call)
    else:
        ctx = record_lfq_margins(mod)
    with ctx as rec:
        out = mod(x_in, **kwargs)
    outs = parse_outputs(module_name, out)

    if backward:
        g_out = torch.randn_like(outs["quantized"])
        tensors["grad_output"] = g_out
        roots, grads = [], []
        if outs["quantized"].requires_grad:
            roots.append(outs["quantized"])
            grads.append(g_out)
        loss = outs.get("loss")
        use_loss = grad_loss if grad_loss is not None else (
            mode == "train" and loss is not None and loss.requires_grad)
        if use_loss and loss is not None and loss.requires_grad:
            g_loss = torch.rand_like(loss) + 0.5
            tensors["grad_loss"] = g_loss
            roots.append(loss)
            grads.append(g_loss)
        if roots:
            torch.autograd.backward(roots, grads)
        gx = x_in.grad if x_in.grad is not None else torch.zeros_like(x)
        tensors["grad.x"] = gx
        tensors.update(param_grads(mod))

    for k, v in outs.items():
        if v is not None:
            tensors[k] = v.detach().clone()

    if decode is not None:
        with torch.no_grad():
            idx = outs["indices"]
            if decode == "codes_from_indices":
                tensors["codes_from_indices"] = mod.indices_to_codes(idx)
            elif decode == "output_from_indices":
                tensors["output_from_indices"] = mod.get_output_from_indices(idx)
            else:
                raise ValueError(decode)

    if mode == "train":
        tensors.update(state_snapshot(mod, "state."))

    return {"tensors": tensors, "margin": rec.margin, "seed": seed,
            "parameters": params, "x_requires_grad": bool(backward)}


# ------------------------------------------------------------ helpers for masks

def lens_mask(lengths):
    """mask=(b, n) bool with mask[b, t] = t < lengths[b]."""

    def make(shape):
        n = shape[1]
        return torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]

    return make


def lens_tensor(lengths):
    return lambda shape: torch.tensor(lengths, dtype=torch.int64)
