#!/usr/bin/env bash
# Side-by-side: the reference's Fashion-MNIST autoencoder examples in PyTorch
# (bench/torch_train.py, with /work/refenv's torch + vector-quantize-pytorch or
# $VQ_TORCH_PYTHON) and `vq train`, on the same machine, same data, same
# hyperparameters, one after the other (VQ, then FSQ, then LFQ), then one Markdown table:
# seconds per step of each (wall, and process CPU time, which a loaded machine
# disturbs less), their ratio, the reconstruction loss (mean of the last 50 steps) and
# active codes (% of the codebook used per batch, mean of the last 50 steps) of each,
# and both test-set losses.
#   bench/compare_train.sh [--steps 1000] [--quantizers "vq fsq lfq"] [--threads N]
#                          [--device cpu|cuda] [--out runs/compare] [--omp-passive]
# --omp-passive runs both with OMP_WAIT_POLICY=passive: on a machine shared with other
# work, spinning OpenMP workers steal the time slices their partners need (see
# docs/performance.md, "The OpenMP wait policy"); on an idle machine leave it off.
# Environment: VQ_BIN (the vq program; default: build it in build-demo like scripts/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=1000 quantizers="vq fsq lfq" threads=0 device=cpu out=runs/compare
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --quantizers) quantizers=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --omp-passive) export OMP_WAIT_POLICY=passive; shift ;;
    *) echo "compare_train.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done
py=${VQ_TORCH_PYTHON:-/work/refenv/bin/python}
"$py" -c "import torch, vector_quantize_pytorch" 2>/dev/null ||
  { echo "compare_train.sh: $py cannot import torch and vector_quantize_pytorch (set VQ_TORCH_PYTHON)" >&2; exit 1; }
bin=${VQ_BIN:-}
if [ -z "$bin" ]; then
  bin=build-demo/vq
  cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DVQ_WITH_CUDA=$([ "$device" = cpu ] && echo OFF || echo AUTO) \
    -DVQ_BUILD_BENCH=OFF >/dev/null
  cmake --build build-demo -j "$(nproc)" --target vq >/dev/null
fi
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"
tflag=() vflag=()
if [ "$threads" != 0 ]; then tflag=(--threads "$threads"); vflag=(--threads "$threads"); fi

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "torch: $("$py" -c 'import torch; print(torch.__version__)'), vector-quantize-pytorch $("$py" -c 'import importlib.metadata as m; print(m.version("vector-quantize-pytorch"))'); vqcpp $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "command: bench/compare_train.sh --steps $steps --quantizers \"$quantizers\" --threads $threads --device $device${OMP_WAIT_POLICY:+ (OMP_WAIT_POLICY=$OMP_WAIT_POLICY)}"
for q in $quantizers; do
  echo "== $q: PyTorch (reference example) ..." >&2
  "$py" bench/torch_train.py --quantizer "$q" --steps "$steps" --device "$device" "${tflag[@]}" \
    --log-every $((steps / 5 > 0 ? steps / 5 : 1)) | tail -n 1 >> "$results"
  echo "== $q: vq train ..." >&2
  rm -rf "$out/$q"
  "$bin" train --quantizer "$q" --steps "$steps" --device "$device" "${vflag[@]}" --out "$out/$q" \
    --log-every $((steps / 5 > 0 ? steps / 5 : 1)) >&2
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['impl']='vqcpp'; d['active_percent']=100*d['active_fraction']; d['test_active_percent']=100*d['test_active_fraction']; print(json.dumps(d))" \
    "$out/$q/summary.json" >> "$results"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["quantizer"], {})[r["impl"]] = r
print()
print("| quantizer | PyTorch s/step | vqcpp s/step | speed-up | PyTorch CPU s/step | vqcpp CPU s/step | CPU speed-up "
      "| PyTorch rec loss | vqcpp rec loss | vqcpp vs PyTorch | PyTorch active % | vqcpp active % "
      "| PyTorch test loss | vqcpp test loss | PyTorch test active % | vqcpp test active % |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for q, d in by.items():
    t, v = d.get("pytorch"), d.get("vqcpp")
    if not t or not v:
        continue
    print(f"| {q} | {t['seconds_per_step']:.3f} | {v['seconds_per_step']:.3f} "
          f"| {t['seconds_per_step'] / v['seconds_per_step']:.2f}x "
          f"| {t['cpu_seconds_per_step']:.3f} | {v['cpu_seconds_per_step']:.3f} "
          f"| {t['cpu_seconds_per_step'] / v['cpu_seconds_per_step']:.2f}x "
          f"| {t['rec_loss']:.4f} | {v['rec_loss']:.4f} | {100 * (v['rec_loss'] / t['rec_loss'] - 1):+.1f}% "
          f"| {t['active_percent']:.1f} | {v['active_percent']:.1f} "
          f"| {t['test_rec_loss']:.4f} | {v['test_rec_loss']:.4f} "
          f"| {t.get('test_active_percent', float('nan')):.1f} | {v['test_active_percent']:.1f} |")
print()
print("speed-up = PyTorch time / vqcpp time (>= 2 is the target); rec loss and active % are means of the "
      "last 50 training steps; test loss and test active % (codes used at least once) over the 10000 "
      "test images.")
PY
