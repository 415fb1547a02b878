"""PyTorch side of bench/bench_conv.cpp: Conv2d forward + backward (dx, dW, dbias) and
forward only at the reference example's shapes (batch 256, 3x3, padding 1):
1 -> 16 channels at 28x28 and 16 -> 32 at 14x14, float32, on the CPU (and CUDA when
available). Prints ms per iteration (median of repeated timings), the process CPU
time per iteration (cpu_ms, all threads: compare it single-threaded on a loaded
machine) and GFLOP/s over the same FLOP count as the C++ benchmark (3 x 2 M N K for
forward + backward, with M = out channels, N = batch * pixels, K = in channels * 9).

    /work/refenv/bin/python bench/conv_torch.py [--threads N] [--repeats R]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = [("b256_28x28_1to16", 256, 1, 28, 28, 16), ("b256_14x14_16to32", 256, 16, 14, 14, 32)]


def timed(fn, device, repeats):
    for _ in range(3):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = default)")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for device in devices:
        for name, B, C, H, W, O in SHAPES:
            g = torch.Generator().manual_seed(0)
            x = torch.randn(B, C, H, W, generator=g).to(device).requires_grad_()
            w = (0.1 * torch.randn(O, C, 3, 3, generator=g)).to(device).requires_grad_()
            b = torch.randn(O, generator=g).to(device).requires_grad_()
            gy = torch.randn(B, O, H, W, generator=g).to(device)
            flops = 2.0 * O * (B * H * W) * (C * 9)

            def fwd_bwd():
                x.grad = w.grad = b.grad = None
                F.conv2d(x, w, b, stride=1, padding=1).backward(gy)

            def fwd():
                with torch.no_grad():
                    F.conv2d(x, w, b, stride=1, padding=1)

            t, c = timed(fwd_bwd, device, args.repeats)
            print(f"torch conv fwd+bwd {device} {name}: {t * 1e3:.2f} ms, cpu_ms {c * 1e3:.2f}, "
                  f"{3 * flops / t / 1e9:.2f} GFLOP/s")
            t, c = timed(fwd, device, args.repeats)
            print(f"torch conv fwd     {device} {name}: {t * 1e3:.2f} ms, cpu_ms {c * 1e3:.2f}, "
                  f"{flops / t / 1e9:.2f} GFLOP/s")


if __name__ == "__main__":
    main()
