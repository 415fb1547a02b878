"""Cross-library safetensors cases shared by the fixture generator and the checker.

`expected_tensors()` is the one definition of the values that
tests/core/test_safetensors.cpp also spells out (keep them in sync): one small
tensor per dtype vqcpp supports, plus edge shapes (a 0-d scalar and an empty
tensor). Values are exactly representable in every dtype they are stored in.

Usage (needs torch + safetensors, e.g. /work/refenv/bin/python):
    python tools/parity/safetensors_cases.py    # rewrites tests/fixtures/safetensors/
"""

import os

import torch

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE_DIR = os.path.join(REPO_ROOT, "tests", "fixtures", "safetensors")

METADATA = {"format": "pt", "producer": "vqcpp-crosslib", "note": "x=1;y=\"two\""}


def expected_tensors():
    return {
        "f32": torch.tensor([[-1.5, 0.0, 2.25], [3.0, -0.125, 1e-3]], dtype=torch.float32),
        "f16": torch.tensor([1.0, -2.5, 0.099975586, 65504.0], dtype=torch.float16),
        "bf16": torch.tensor([[1.0, -3.0], [0.5, 1.0e30]], dtype=torch.bfloat16),
        "f64": torch.tensor([3.141592653589793, -1e-300], dtype=torch.float64),
        "i64": torch.tensor([-(2**40), 0, 2**62 + 7], dtype=torch.int64),
        "i32": torch.tensor([[-7], [2147483647]], dtype=torch.int32),
        "u8": torch.tensor([0, 127, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True, True], dtype=torch.bool),
        "scalar": torch.tensor(42.5, dtype=torch.float32),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
        "nested.name/with:chars": torch.tensor([7], dtype=torch.int64),
    }


def main():
    from safetensors.torch import save_file

    os.makedirs(FIXTURE_DIR, exist_ok=True)
    save_file(expected_tensors(), os.path.join(FIXTURE_DIR, "py_all_dtypes.safetensors"),
              metadata=METADATA)
    # A file with no tensors and no metadata: header "{}" padded.
    save_file({}, os.path.join(FIXTURE_DIR, "py_empty.safetensors"))
    # numpy writer too, as a second producer (no bf16 in numpy).
    import numpy as np
    from safetensors.numpy import save_file as np_save

    np_save({"w": np.arange(12, dtype=np.float32).reshape(3, 4) / 4,
             "idx": np.array([5, -1, 3], dtype=np.int64)},
            os.path.join(FIXTURE_DIR, "np_small.safetensors"), metadata={"k": "v"})
    print("wrote", FIXTURE_DIR)


if __name__ == "__main__":
    main()
