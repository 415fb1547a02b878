#!/usr/bin/env python3
"""Times the reference LFQ (vector-quantize-pytorch) with a 2^16 codebook on the shapes of
bench_fsq_lfq's BM_lfq_module_2p16: LFQ(codebook_size=65536, dim=16, entropy 0.1, gamma 1),
training forward + backward of sum(quantized) + aux loss on x = (b, 16, 32, 32),
inv_temperature 100. Prints median milliseconds and peak RSS growth per batch size.

Run in the reference environment on the same machine as the C++ benchmark:
    OMP_NUM_THREADS=2 /work/refenv/bin/python bench/compare_lfq_entropy.py --threads 2
"""
import argparse
import resource
import statistics
import time

import torch
from vector_quantize_pytorch import LFQ


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for b in args.batches:
        q = LFQ(codebook_size=65536, dim=16, entropy_loss_weight=0.1, diversity_gamma=1.0)
        x0 = torch.randn(b, 16, 32, 32)
        before = rss_mib()
        times = []
        for i in range(args.reps + 1):
            x = x0.clone().requires_grad_()
            t0 = time.perf_counter()
            out, idx, aux = q(x, inv_temperature=100.0)
            (out.sum() + aux).backward()
            dt = time.perf_counter() - t0
            if i > 0:
                times.append(dt)
        print(f"b={b} tokens={b * 1024}: median {statistics.median(times) * 1e3:.1f} ms "
              f"(min {min(times) * 1e3:.1f}), peak RSS growth {rss_mib() - before:.0f} MiB")


if __name__ == "__main__":
    main()
