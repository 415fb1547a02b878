"""JSON specs -> the Python objects the reference takes for VectorQuantize's
`vq_bridge` (a module) and `in_place_codebook_optimizer` (a params -> optimizer
factory). Fixtures store the JSON spec in `config` (the same spec vqcpp reads,
quantizers/vq_callables.h); the generator and the replayer build the module
with `materialize(module_name, config)`.

    vq_bridge: {"type": "linear", "bias": true}            -> nn.Linear(d, d)
               {"type": "mlp", "hidden": [64], "activation": "gelu", "bias": true}
                                                           -> nn.Sequential(Linear(d, 64), GELU(), Linear(64, d))
    in_place_codebook_optimizer: {"type": "SGD" | "Adam" | "AdamW", <torch.optim kwargs>}

    SimVQ / ResidualSimVQ codebook_transform: the same "linear" / "mlp" specs,
               mapping frozen_codebook_dim (else dim) -> dim (make_transform).

d is the code width (codebook_dim, else dim). ResidualVQ-style configs pass
these keys through to their layers with d = codebook_dim or dim as well.
"""

from functools import partial

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "gelu_tanh": partial(nn.GELU, approximate="tanh"),
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


def make_transform(spec, d_in, d_out):
    """A layer spec ("linear" / "mlp") mapping d_in -> d_out: SimVQ's codebook_transform."""
    bias = spec.get("bias", True)
    if spec["type"] == "linear":
        return nn.Linear(d_in, d_out, bias=bias)
    assert spec["type"] == "mlp", spec["type"]
    hidden = spec.get("hidden", [])
    if isinstance(hidden, int):
        hidden = [hidden]
    dims = [d_in, *hidden, d_out]
    act = ACTIVATIONS[spec.get("activation", "relu")]
    layers = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1], bias=bias))
        if i + 2 < len(dims):
            layers.append(act())
    return nn.Sequential(*layers)


def make_bridge(spec, d):
    """A vq_bridge: the same specs, mapping the code width d to itself."""
    return make_transform(spec, d, d)


def make_optimizer_factory(spec):
    kw = dict(spec)
    cls = getattr(torch.optim, kw.pop("type"))
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    return lambda params: cls(params, **kw)


def materialize(module_name, config):
    """-> constructor kwargs with the JSON specs replaced by Python objects."""
    cfg = dict(config)
    d = cfg.get("codebook_dim") or cfg.get("dim")
    if cfg.get("vq_bridge") is not None:
        cfg["vq_bridge"] = make_bridge(cfg["vq_bridge"], d)
    if module_name in ("SimVQ", "ResidualSimVQ") and cfg.get("codebook_transform") is not None:
        # one module object: ResidualSimVQ passes it to every layer (shared)
        cfg["codebook_transform"] = make_transform(cfg["codebook_transform"],
                                                   cfg.get("frozen_codebook_dim") or cfg["dim"], cfg["dim"])
    if cfg.get("in_place_codebook_optimizer") is not None:
        cfg["in_place_codebook_optimizer"] = make_optimizer_factory(cfg["in_place_codebook_optimizer"])
    return cfg
