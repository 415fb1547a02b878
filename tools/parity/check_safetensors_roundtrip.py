"""Checks that a safetensors file written by vqcpp loads in Python's safetensors.

The C++ test "safetensors: writes the file tools/parity/check_safetensors_roundtrip.py
reads" (tests/core/test_safetensors.cpp) writes
<build>/test_tmp/safetensors/from_cpp.safetensors with the tensors and metadata of
safetensors_cases.py. This script loads it with safetensors.torch (all dtypes,
bf16 included) and safetensors.numpy (all but bf16), compares every tensor bit for
bit and the metadata exactly, and checks the header framing by hand (length prefix,
8-byte padding with spaces, offsets tiling the buffer). Exit status 0 means pass.

Usage (needs torch + safetensors + numpy, e.g. the /work/refenv venv):
    build/tests/vq_tests -tc='*safetensors*'
    /work/refenv/bin/python tools/parity/check_safetensors_roundtrip.py \
        build/test_tmp/safetensors/from_cpp.safetensors
"""

import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_cases import METADATA, expected_tensors  # noqa: E402


def check_framing(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, f"header length {n} is not a multiple of 8"
    text = raw[8:8 + n].decode("utf-8")
    assert text.rstrip(" ") == text.rstrip(), "header padding must be spaces"
    header = json.loads(text)
    spans = sorted(tuple(v["data_offsets"]) for k, v in header.items() if k != "__metadata__")
    pos = 0
    for b, e in spans:
        assert b == pos, f"data not contiguous at {b} (expected {pos})"
        pos = e
    assert pos == len(raw) - 8 - n, "tensors do not cover the data buffer"


def raw_bytes(t):
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    path = sys.argv[1]
    from safetensors import safe_open
    from safetensors.torch import load_file

    check_framing(path)
    want = expected_tensors()
    got = load_file(path)
    assert set(got) == set(want), f"names differ: {sorted(got)} vs {sorted(want)}"
    for name, w in want.items():
        g = got[name]
        assert g.dtype == w.dtype, f"{name}: dtype {g.dtype} != {w.dtype}"
        assert g.shape == w.shape, f"{name}: shape {tuple(g.shape)} != {tuple(w.shape)}"
        assert raw_bytes(g) == raw_bytes(w), f"{name}: values differ"
    with safe_open(path, framework="pt") as f:
        assert f.metadata() == METADATA, f"metadata {f.metadata()} != {METADATA}"
    # numpy has no bf16: read every other tensor through the numpy reader too.
    with safe_open(path, framework="np") as f:
        for name in f.keys():
            if name != "bf16":
                a = f.get_tensor(name)
                assert a.tobytes() == raw_bytes(want[name]), f"{name}: numpy bytes differ"
    print(f"OK: {len(want)} tensors and metadata of {path} match (torch + numpy readers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
