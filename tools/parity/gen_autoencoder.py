"""Golden training steps of the reference's Fashion-MNIST autoencoders
(tests/fixtures/AutoEncoder/): the examples' models (bench/torch_train.py builds
them as examples/autoencoder*.py do), a few AdamW steps on fixed batches of real
Fashion-MNIST training images, and what each step computes: reconstruction loss,
quantizer loss, code indices, the first step's parameter gradients, and the
whole state (parameters and buffers) after the last step. `vq train` must take
exactly these steps (tests/apps/test_train_fixtures.cpp).

Needs Debian's dataset-fashion-mnist files (or FASHION_MNIST_DIR); the fixture
stores the images it uses, so the C++ test does not.
"""

import json
import os
import sys

import torch

from common import REPO_ROOT, param_grads, state_snapshot, write_case

sys.path.insert(0, os.path.join(REPO_ROOT, "bench"))
import torch_train  # noqa: E402  (make_model, step_losses, load_images)

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
STEPS = 3
BATCH = 8
LR = 3e-4


def build(cfg):
    model, _ = torch_train.make_model(cfg["quantizer"], cfg["codebook_size"], cfg["levels"],
                                      cfg["rotation_trick"])
    return model


def run_steps(meta, t, dtype=torch.float32):
    """Replays a file's steps from its state_in.* and batch.* (used by the
    generator, replay.py and the float64 tolerance run)."""
    cfg = json.loads(meta["config"])
    model = build(cfg).to(dtype)
    state = {k[len("state_in."):]: v for k, v in t.items() if k.startswith("state_in.")}
    model.load_state_dict(state, strict=True)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], foreach=False)
    alpha = 10.0 if cfg["quantizer"] == "vq" else 1.0
    got = {}
    for i in range(int(meta["steps"])):
        x = t[f"batch.{i}"].to(dtype)
        opt.zero_grad()
        total, rec, aux, idx = torch_train.step_losses(cfg["quantizer"], model, x, alpha)
        got[f"rec_loss.{i}"] = rec.detach().clone()
        got[f"aux_loss.{i}"] = aux.detach().clone()
        got[f"indices.{i}"] = idx.detach().clone()
        total.backward()
        if i == 0:
            got.update(param_grads(model))
        opt.step()
    got.update(state_snapshot(model, "state."))
    return got


def case(name, cfg, seed, what):
    torch.manual_seed(seed)
    model = build(cfg)
    images = torch_train.load_images(DATA_DIR, "train")
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(images.shape[0], generator=g)[: STEPS * BATCH]
    tensors = state_snapshot(model, "state_in.")
    for i in range(STEPS):
        tensors[f"batch.{i}"] = images[pick[i * BATCH:(i + 1) * BATCH]].clone()
    meta = {"config": json.dumps(cfg), "steps": str(STEPS)}
    tensors.update(run_steps(meta, tensors))
    write_case(module="AutoEncoder", case_name=name, kind="model_steps", config=cfg, mode="train",
               seed=seed, case=what, tensors=tensors, extra_meta={"steps": str(STEPS)})


def generate():
    base = {"codebook_size": 256, "levels": [8, 6, 5], "rotation_trick": True, "lr": LR}
    case("vq_steps", dict(base, quantizer="vq"), 1234,
         f"autoencoder.py model (VQ, rotation trick), {STEPS} AdamW steps on {BATCH} images each")
    case("fsq_steps", dict(base, quantizer="fsq"), 1234,
         f"autoencoder_fsq.py model (levels 8,6,5), {STEPS} AdamW steps on {BATCH} images each")
    case("lfq_steps", dict(base, quantizer="lfq"), 1234,
         f"autoencoder_lfq.py model (K 256, spherical), {STEPS} AdamW steps on {BATCH} images each")
