#!/usr/bin/env python3
# Loads a `vq train` checkpoint.safetensors into the reference's own PyTorch model (the
# examples' utils.Sequential, built by bench/torch_train.py) with
# load_state_dict(strict=True) and prints its test-set reconstruction loss, to compare
# with `vq eval --checkpoint FILE` (they agree to float rounding):
#   /work/refenv/bin/python bench/torch_eval_checkpoint.py runs/demo/checkpoint.safetensors
import json
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_train  # noqa: E402


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: torch_eval_checkpoint.py CHECKPOINT")
    path = sys.argv[1]
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != "vqcpp-train-checkpoint":
        raise SystemExit(f"{path}: not a vq train checkpoint")
    m = json.loads(meta["model"])
    model, _ = torch_train.make_model(m["quantizer"], m["codebook_size"], m["levels"], m["rotation_trick"])
    model.load_state_dict(load_file(path), strict=True)
    model.eval()
    data_dir = os.environ.get("VQ_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
    test = torch_train.load_images(data_dir, "test")
    tot, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, test.shape[0], 1000):
            x = test[i:i + 1000]
            tot += (model(x)[0].clamp(-1.0, 1.0) - x).abs().sum().item()
            n += x.numel()
    print(f"PyTorch reference model with {path} ({m['quantizer']}, strict load): "
          f"test rec loss {tot / n:.6f} over {test.shape[0]} images")


if __name__ == "__main__":
    main()
