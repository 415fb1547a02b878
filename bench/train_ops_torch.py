#!/usr/bin/env python3
# PyTorch side of bench/bench_train_ops.cpp: the reference example's ops at its
# training shapes (batch 256), forward + backward, process CPU time per iteration
# (median of 5 runs of R iterations), and whole training steps of bench/torch_train.py's
# models. Compare single-threaded: /work/refenv/bin/python bench/train_ops_torch.py --threads 1
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_train  # noqa: E402


def timed(name, fn, reps):
    fn()
    fn()
    runs = []
    for _ in range(5):
        c0 = time.process_time()
        for _ in range(reps):
            fn()
        runs.append((time.process_time() - c0) / reps * 1e3)
    print(f"{name:44s} {statistics.median(runs):8.2f} ms")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    r = a.repeats
    torch.manual_seed(1)
    for C, H, O in [(1, 28, 16), (16, 14, 32)]:
        x = torch.randn(256, C, H, H, requires_grad=C > 1)
        w, b = torch.randn(O, C, 3, 3, requires_grad=True), torch.randn(O, requires_grad=True)
        gy = torch.randn(256, O, H, H)
        timed(f"conv3x3 C={C} H={H} O={O}", lambda: F.conv2d(x, w, b, padding=1).backward(gy), r)
    for C, H, O in [(32, 7, 16), (16, 14, 1)]:
        x = torch.randn(256, C, H, H, requires_grad=True)
        w, b = torch.randn(O, C, 3, 3, requires_grad=True), torch.randn(O, requires_grad=True)
        gy = torch.randn(256, O, 2 * H, 2 * H)
        timed(f"upsample+conv3x3 C={C} H={H} O={O}",
              lambda: F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, b, padding=1).backward(gy), r)
    for C, H in [(16, 28), (32, 14)]:
        x = torch.randn(256, C, H, H, requires_grad=True)
        gy = torch.randn(256, C, H // 2, H // 2)

        def fwd():
            with torch.no_grad():
                F.max_pool2d(x, 2, 2)
        timed(f"max_pool2 C={C} H={H} fwd", fwd, r)
        timed(f"max_pool2 C={C} H={H} fwd+bwd", lambda: F.max_pool2d(x, 2, 2).backward(gy), r)
    x = torch.randn(256, 16, 14, 14, requires_grad=True)
    gy = torch.randn(256, 16, 14, 14)

    def gfwd():
        with torch.no_grad():
            F.gelu(x)
    timed("gelu 256x16x14x14 fwd", gfwd, r)
    timed("gelu 256x16x14x14 fwd+bwd", lambda: F.gelu(x).backward(gy), r)

    data_dir = os.environ.get("VQ_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
    train = torch_train.load_images(data_dir, "train")
    for q in ["vq", "fsq", "lfq"]:
        torch.manual_seed(1234)
        model, _ = torch_train.make_model(q, 256, [8, 6, 5], True)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4)

        def step():
            opt.zero_grad()
            x = train[torch.randperm(train.shape[0])[:256]]
            total, rec, aux, idx = torch_train.step_losses(q, model, x, 10.0)
            total.backward()
            opt.step()
            rec.item()
            idx.unique().numel()
        for _ in range(3):
            step()
        timed(f"training step {q}", step, 3)


if __name__ == "__main__":
    main()
