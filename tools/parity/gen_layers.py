"""Golden fixtures for the basic layers (tests/fixtures/<Layer>/): forward
output `y` and the backward of a given `grad_output` (grad.x, grad.weight,
grad.bias). Parameters are random (not the default ones/zeros of the norm
layers) so that every gradient term is exercised.
"""

import torch
from torch import nn

from common import param_grads, parameter_names, state_snapshot, write_case


def layer_case(module, name, case, config, x_shape, seed, randomize_params=False, x_fn=None,
               rtol=None, atol=None):
    torch.manual_seed(seed)
    mod = getattr(nn, module)(**config)
    if randomize_params:
        with torch.no_grad():
            for p in mod.parameters():
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if p.dim() == 1 and p is getattr(mod, "weight", None) else 0.0))
    x = x_fn() if x_fn else torch.randn(*x_shape)
    tensors = {"x": x.clone()}
    tensors.update(state_snapshot(mod, "state_in."))
    xin = x.clone().requires_grad_(True)
    y = mod(xin)
    g = torch.randn_like(y)
    y.backward(g)
    tensors.update({"y": y.detach(), "grad_output": g, "grad.x": xin.grad})
    tensors.update(param_grads(mod))
    extra = {"x_requires_grad": "true", "parameters": parameter_names(mod)}
    if rtol is not None:
        extra["rtol"] = repr(float(rtol))
    if atol is not None:
        extra["atol"] = repr(float(atol))
    write_case(module=module, case_name=name, kind="layer", config=config, mode="train", seed=seed,
               case=case, tensors=tensors, extra_meta=extra)


def generate():
    layer_case("Linear", "bias", "Linear(8, 4) on x=(2, 3, 8)", {"in_features": 8, "out_features": 4, "bias": True},
               (2, 3, 8), 400)
    layer_case("Linear", "no_bias", "Linear(8, 5, bias=False) on x=(6, 8)", {"in_features": 8, "out_features": 5, "bias": False},
               (6, 8), 401)

    layer_case("LayerNorm", "affine", "LayerNorm(8) with random gain/bias on x=(2, 3, 8)",
               {"normalized_shape": [8], "eps": 1e-5, "elementwise_affine": True}, (2, 3, 8), 410, randomize_params=True)
    layer_case("LayerNorm", "no_affine", "LayerNorm(6, elementwise_affine=False) on x=(4, 6)",
               {"normalized_shape": [6], "eps": 1e-5, "elementwise_affine": False}, (4, 6), 411)

    layer_case("GroupNorm", "affine", "GroupNorm(2, 4) with random gain/bias on x=(2, 4, 3, 3)",
               {"num_groups": 2, "num_channels": 4, "eps": 1e-5, "affine": True}, (2, 4, 3, 3), 420, randomize_params=True)
    layer_case("GroupNorm", "no_affine", "GroupNorm(3, 6, affine=False) on x=(2, 6, 2, 3)",
               {"num_groups": 3, "num_channels": 6, "eps": 1e-5, "affine": False}, (2, 6, 2, 3), 421)
    layer_case("GroupNorm", "one_group", "GroupNorm(1, 4) on x=(2, 4, 5) (sequence input)",
               {"num_groups": 1, "num_channels": 4, "eps": 1e-5, "affine": True}, (2, 4, 5), 422, randomize_params=True)

    layer_case("Conv2d", "k3_pad1", "Conv2d(3, 4, 3, padding=1) on x=(2, 3, 5, 5)",
               {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 1, "bias": True},
               (2, 3, 5, 5), 430)
    layer_case("Conv2d", "k3_s2_nobias", "Conv2d(2, 3, 3, stride=2, padding=1, bias=False) on x=(2, 2, 6, 6)",
               {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1, "bias": False},
               (2, 2, 6, 6), 431)
    layer_case("Conv2d", "k1", "Conv2d(4, 2, 1) (pointwise) on x=(2, 4, 3, 3)",
               {"in_channels": 4, "out_channels": 2, "kernel_size": 1, "stride": 1, "padding": 0, "bias": True},
               (2, 4, 3, 3), 432)
    layer_case("Conv2d", "k3_s2_nopad", "Conv2d(1, 3, 3, stride=2) without padding on x=(2, 1, 7, 7)",
               {"in_channels": 1, "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 0, "bias": True},
               (2, 1, 7, 7), 433)

    layer_case("MaxPool2d", "k2", "MaxPool2d(2) on x=(2, 3, 4, 4)", {"kernel_size": 2, "stride": 2, "padding": 0},
               (2, 3, 4, 4), 440)
    layer_case("MaxPool2d", "k3_s2_pad1", "MaxPool2d(3, stride=2, padding=1) (overlapping windows) on x=(2, 2, 5, 5)",
               {"kernel_size": 3, "stride": 2, "padding": 1}, (2, 2, 5, 5), 441)

    layer_case("Upsample", "nearest2", "Upsample(scale_factor=2, mode='nearest') on x=(2, 3, 3, 3)",
               {"scale_factor": 2, "mode": "nearest"}, (2, 3, 3, 3), 450)
    layer_case("Upsample", "nearest3", "Upsample(scale_factor=3, mode='nearest') on x=(1, 2, 2, 3)",
               {"scale_factor": 3, "mode": "nearest"}, (1, 2, 2, 3), 451)

    layer_case("GELU", "exact", "GELU() (erf form) on x=(2, 3, 8)", {"approximate": "none"}, (2, 3, 8), 460,
               x_fn=lambda: torch.randn(2, 3, 8) * 2.5)
    layer_case("GELU", "tanh", "GELU(approximate='tanh') on x=(2, 3, 8)", {"approximate": "tanh"}, (2, 3, 8), 461,
               x_fn=lambda: torch.randn(2, 3, 8) * 2.5)
    layer_case("SiLU", "default", "SiLU() on x=(2, 3, 8)", {}, (2, 3, 8), 470, x_fn=lambda: torch.randn(2, 3, 8) * 3.0)
    layer_case("ReLU", "default", "ReLU() on x=(2, 3, 8)", {}, (2, 3, 8), 480)
    layer_case("Tanh", "default", "Tanh() on x=(2, 3, 8)", {}, (2, 3, 8), 481, x_fn=lambda: torch.randn(2, 3, 8) * 2.0)
