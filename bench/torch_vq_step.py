#!/usr/bin/env python3
"""The reference's VectorQuantize training step in PyTorch, the twin of `vq bench vq`.

Times, as median of --repeats after --warmup calls:
  forward  eval-mode forward under no_grad
  step     train-mode forward (rotation trick, commitment loss, EMA update inside the
           forward, as the reference does it) + backward of (quantized, loss) with
           gradients (g, 1) down to the input
Peak memory is the peak RSS growth of each phase (Linux: VmHWM after resetting it
through /proc/self/clear_refs, minus the RSS at the start of the phase), so it
counts the temporaries the phase allocates, not the inputs or the module.

Module: VectorQuantize(dim, codebook_size, decay=0.8) with every other option at the
reference's default (rotation_trick on, commitment_weight 1, EMA update, no k-means).
Input x and output gradient g are (1, N, dim) standard normal. Prints one JSON object.

Run with the reference's environment, e.g.
  /work/refenv/bin/python bench/torch_vq_step.py --n 16384 --dim 256 --codebook-size 1024 --threads 2
"""
import argparse
import json
import os
import platform
import resource
import statistics
import time


def read_status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


class PeakRss:
    """Peak RSS growth of a code region, in bytes (None when /proc is unavailable)."""

    def __enter__(self):
        self.reset_ok = True
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
        except OSError:
            self.reset_ok = False
        self.base = read_status_kb("VmRSS")
        if not self.reset_ok:
            self.base_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def __exit__(self, *exc):
        if self.base is None:
            self.bytes = None
        elif self.reset_ok:
            self.bytes = max(0, read_status_kb("VmHWM") - self.base) * 1024
        else:  # lifetime peak: only growth above the earlier peak is visible
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.bytes = max(0, peak - max(self.base, self.base_peak)) * 1024
        return False


def median_ms(fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)  # all threads of the process
    return statistics.median(times), min(times), statistics.median(cpu)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=16384)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--codebook-size", type=int, default=1024)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-forward", action="store_true", help="time only the training step")
    a = p.parse_args()
    if min(a.n, a.dim, a.codebook_size, a.threads, a.repeats) < 1 or a.warmup < 0:
        p.error("--n, --dim, --codebook-size, --threads and --repeats must be >= 1, --warmup >= 0")

    import torch
    import vector_quantize_pytorch
    from vector_quantize_pytorch import VectorQuantize

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    N, D, K = a.n, a.dim, a.codebook_size
    vq = VectorQuantize(dim=D, codebook_size=K, decay=0.8)
    x = torch.randn(1, N, D)
    g = torch.randn(1, N, D)
    one = torch.ones(())
    flops = 2.0 * N * K * D

    result = {
        "implementation": "vector-quantize-pytorch",
        "reference_version": getattr(vector_quantize_pytorch, "__version__", None)
        or _dist_version("vector-quantize-pytorch"),
        "torch_version": torch.__version__,
        "blas": "mkl" if torch.backends.mkl.is_available() else "other",
        "device": "cpu",
        "n": N, "dim": D, "codebook_size": K,
        "threads": torch.get_num_threads(),
        "repeats": a.repeats, "warmup": a.warmup,
        "machine": platform.processor() or platform.machine(),
        "pid": os.getpid(),
        "results": {},
    }

    def entry(ms_med, ms_min, cpu_ms, mem):
        return {"ms": ms_med, "ms_min": ms_min, "cpu_ms": cpu_ms, "gflops_eq": flops / (ms_med * 1e6),
                "peak_mem_bytes": mem, "bytes_per_pair": None if mem is None else mem / (N * K)}

    if not a.skip_forward:
        vq.eval()

        def forward():
            with torch.no_grad():
                vq(x)

        with PeakRss() as m:
            med, mn, cpu = median_ms(forward, a.repeats, a.warmup)
        result["results"]["forward"] = entry(med, mn, cpu, m.bytes)

    vq.train()

    def step():
        xx = x.detach().requires_grad_()
        q, _, loss = vq(xx)
        torch.autograd.backward([q, loss], [g, one])
        return xx.grad

    with PeakRss() as m:
        med, mn, cpu = median_ms(step, a.repeats, a.warmup)
    result["results"]["step"] = entry(med, mn, cpu, m.bytes)
    print(json.dumps(result))


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001 - best effort metadata
        return None


if __name__ == "__main__":
    main()
