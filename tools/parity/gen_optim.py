"""Golden optimizer trajectories (tests/fixtures/<Optimizer>/): parameters
`w` (4, 3) and `b` (3,), a fixed random gradient per step for 10 steps, and
the parameters after every step. Also gradient clipping by global norm.
"""

import torch

from common import write_case

STEPS = 10


def optim_case(module, name, case, config, seed):
    torch.manual_seed(seed)
    params = {"w": torch.randn(4, 3), "b": torch.randn(3)}
    grads = [{k: torch.randn_like(v) for k, v in params.items()} for _ in range(STEPS)]
    tensors = {f"param.{k}": v.clone() for k, v in params.items()}
    live = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    kwargs = dict(config)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    opt = getattr(torch.optim, module)([live["w"], live["b"]], foreach=False, **kwargs)
    for i, g in enumerate(grads):
        for k, p in live.items():
            p.grad = g[k].clone()
            tensors[f"grad_step.{i}.{k}"] = g[k].clone()
        opt.step()
        for k, p in live.items():
            tensors[f"param_step.{i}.{k}"] = p.detach().clone()
    write_case(module=module, case_name=name, kind="optimizer", config=config, mode="train", seed=seed,
               case=case, tensors=tensors, extra_meta={"steps": str(STEPS)})


def clip_case(name, case, config, seed, grad_scale):
    torch.manual_seed(seed)
    shapes = {"w": (4, 3), "b": (3,)}
    grads = {k: torch.randn(*s) * grad_scale for k, s in shapes.items()}
    live = {k: torch.nn.Parameter(torch.zeros(*s)) for k, s in shapes.items()}
    for k, p in live.items():
        p.grad = grads[k].clone()
    total = torch.nn.utils.clip_grad_norm_([live["w"], live["b"]], foreach=False, **config)
    tensors = {f"grad_in.{k}": v for k, v in grads.items()}
    tensors.update({f"grad_out.{k}": p.grad for k, p in live.items()})
    tensors["total_norm"] = total
    write_case(module="clip_grad_norm_", case_name=name, kind="function", config=config, mode="train",
               seed=seed, case=case, tensors=tensors)


def generate():
    optim_case("SGD", "plain", "SGD lr=0.1", {"lr": 0.1}, 500)
    optim_case("SGD", "momentum", "SGD lr=0.1 momentum=0.9", {"lr": 0.1, "momentum": 0.9}, 501)
    optim_case("SGD", "nesterov", "SGD lr=0.1 momentum=0.9 nesterov", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, 502)
    optim_case("SGD", "momentum_dampening_wd", "SGD lr=0.05 momentum=0.9 dampening=0.1 weight_decay=0.01",
               {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}, 503)
    optim_case("SGD", "nesterov_wd", "SGD lr=0.05 momentum=0.8 nesterov weight_decay=0.1",
               {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}, 504)
    optim_case("Adam", "default", "Adam lr=1e-2 (betas 0.9/0.999, eps 1e-8)", {"lr": 0.01}, 510)
    optim_case("Adam", "betas_eps_wd", "Adam lr=1e-2 betas=(0.8, 0.95) eps=1e-6 weight_decay=0.1 (L2, coupled)",
               {"lr": 0.01, "betas": [0.8, 0.95], "eps": 1e-6, "weight_decay": 0.1}, 511)
    optim_case("AdamW", "default", "AdamW lr=1e-2 (weight_decay default 0.01, decoupled)", {"lr": 0.01}, 520)
    optim_case("AdamW", "wd01", "AdamW lr=3e-3 betas=(0.9, 0.99) weight_decay=0.1",
               {"lr": 0.003, "betas": [0.9, 0.99], "weight_decay": 0.1}, 521)
    optim_case("AdamW", "large_eps", "AdamW lr=1e-1 eps=1e-3 weight_decay=0.5 (eps outside the sqrt matters)",
               {"lr": 0.1, "eps": 1e-3, "weight_decay": 0.5}, 522)

    clip_case("clipped", "clip_grad_norm_ max_norm=1 on gradients with norm ~6: scaled by max_norm/(norm+1e-6)",
              {"max_norm": 1.0, "norm_type": 2.0}, 530, 2.0)
    clip_case("not_clipped", "clip_grad_norm_ max_norm=10 on gradients with norm ~1.5: unchanged (coefficient clamped to 1)",
              {"max_norm": 10.0, "norm_type": 2.0}, 531, 0.5)
