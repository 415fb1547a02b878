#!/usr/bin/env python3
# The reference's Fashion-MNIST autoencoder examples (vector-quantize-pytorch
# examples/autoencoder.py, autoencoder_fsq.py, autoencoder_lfq.py; ../shared/SPEC.md
# section 21) in PyTorch, for bench/compare_train.sh. Same architecture, optimizer,
# loss, seed and step count as the examples; the data comes from the Debian package's
# IDX gzip files (read with numpy, no torchvision download), normalized to [-1, 1] as
# the examples do, and each step draws a fresh random batch of 256 training images
# (what the examples' `next(iterate_dataset(loader))` on a shuffled DataLoader does).
# The images are normalized once up front, so the timed loop holds only the model step
# (forward, loss, backward, AdamW) and the per-step metrics the examples print.
#
# Prints one JSON line: seconds_per_step, rec_loss (mean of the last 50 steps),
# active_percent (mean of the last 50 steps' distinct codes / codebook size),
# test_rec_loss, test_active_percent (distinct codes over the test set / codebook
# size), ... Usage: torch_train.py --quantizer vq|fsq|lfq [--steps N] ...
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from vector_quantize_pytorch import FSQ, LFQ, VectorQuantize
from vector_quantize_pytorch.utils import Sequential


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_images(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    u8 = torch.from_numpy(read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz")).copy())
    x = u8.float().div(255.0)          # torchvision ToTensor
    x = (x - 0.5) / 0.5                # Normalize((0.5,), (0.5,))
    return x.unsqueeze(1).contiguous()  # [N, 1, 28, 28]


def make_model(kind, codebook_size, levels, rotation_trick):
    enc = [nn.Conv2d(1, 16, 3, 1, 1), nn.MaxPool2d(2, 2), nn.GELU(),
           nn.Conv2d(16, 32, 3, 1, 1), nn.MaxPool2d(2, 2)]
    dec = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(32, 16, 3, 1, 1), nn.GELU(),
           nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(16, 1, 3, 1, 1)]
    if kind == "vq":  # autoencoder.py
        q = VectorQuantize(dim=32, codebook_size=codebook_size, accept_image_fmap=True,
                           rotation_trick=rotation_trick,
                           straight_through=not rotation_trick)  # example's flag: STE
        return Sequential(*enc, q, *dec), codebook_size
    if kind == "fsq":  # autoencoder_fsq.py
        q = FSQ(levels)
        n = len(levels)
        return Sequential(*enc, nn.Conv2d(32, n, 1), q, nn.Conv2d(n, 32, 3, 1, 1), *dec), math.prod(levels)
    if kind == "lfq":  # autoencoder_lfq.py
        d = int(math.log2(codebook_size))
        q = LFQ(dim=d, codebook_size=codebook_size, entropy_loss_weight=0.02, diversity_gamma=1.0,
                spherical=True)
        return (Sequential(*enc, nn.GroupNorm(4, 32, affine=False), nn.Conv2d(32, d, 1), q,
                           nn.Conv2d(d, 32, 3, 1, 1), *dec), codebook_size)
    raise SystemExit(f"torch_train.py: unknown quantizer {kind}")


def step_losses(kind, model, x, alpha):
    out = model(x)
    y = out[0].clamp(-1.0, 1.0)
    idx = out[1]
    rec = (y - x).abs().mean() if kind != "lfq" else F.l1_loss(y, x)
    aux = out[2] if len(out) > 2 else torch.zeros(())
    total = rec + alpha * aux if kind == "vq" else (rec + aux if kind == "lfq" else rec)
    return total, rec, aux, idx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quantizer", default="vq", choices=["vq", "fsq", "lfq"])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--codebook-size", type=int, default=256)
    p.add_argument("--levels", default="8,6,5")
    p.add_argument("--straight-through", action="store_true")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-dir", default=os.environ.get("VQ_FASHION_MNIST_DIR") or
                   "/usr/share/datasets/fashion-mnist")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--epoch-batches", action="store_true",
                   help="shuffle once per epoch and take consecutive full batches (vq train's "
                        "sampling) instead of a fresh random batch each step (the examples')")
    a = p.parse_args()

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    levels = [int(v) for v in a.levels.split(",")]
    train = load_images(a.data_dir, "train").to(device)
    test = load_images(a.data_dir, "test").to(device)
    model, num_codes = make_model(a.quantizer, a.codebook_size, levels, not a.straight_through)
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr)
    alpha = 10.0

    recs, actives = [], []
    order, cursor = None, train.shape[0]
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    c0 = time.process_time()
    for step in range(1, a.steps + 1):
        opt.zero_grad()
        if a.epoch_batches:
            if cursor + a.batch_size > train.shape[0]:
                order, cursor = torch.randperm(train.shape[0], device=device), 0
            x = train[order[cursor:cursor + a.batch_size]]
            cursor += a.batch_size
        else:
            x = train[torch.randperm(train.shape[0], device=device)[:a.batch_size]]
        total, rec, aux, idx = step_losses(a.quantizer, model, x, alpha)
        total.backward()
        opt.step()
        recs.append(rec.item())
        actives.append(idx.unique().numel() / num_codes * 100.0)
        if a.log_every and (step % a.log_every == 0 or step == a.steps):
            print(f"torch {a.quantizer} step {step}: rec loss {recs[-1]:.4f} | aux {float(aux):.4f}"
                  f" | active % {actives[-1]:.1f}", file=sys.stderr, flush=True)
    sync()
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0

    model.eval()
    with torch.no_grad():
        tot, n, used = 0.0, 0, set()
        for i in range(0, test.shape[0], 1000):
            x = test[i:i + 1000]
            out = model(x)
            y = out[0].clamp(-1.0, 1.0)
            tot += (y - x).abs().sum().item()
            n += x.numel()
            used.update(out[1].unique().tolist())
    last = min(50, len(recs))
    print(json.dumps({
        "impl": "pytorch", "quantizer": a.quantizer, "steps": a.steps, "batch_size": a.batch_size,
        "threads": torch.get_num_threads(), "device": str(device), "torch": torch.__version__,
        "seconds": seconds, "seconds_per_step": seconds / a.steps,
        "cpu_seconds_per_step": cpu_seconds / a.steps,
        "rec_loss": sum(recs[-last:]) / last, "active_percent": sum(actives[-last:]) / last,
        "test_rec_loss": tot / n, "test_active_percent": len(used) / num_codes * 100.0,
        "codebook_size": num_codes,
    }))


if __name__ == "__main__":
    main()
