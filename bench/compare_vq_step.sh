#!/usr/bin/env bash
# Side-by-side VectorQuantize timing: vqcpp (`vq bench vq --json`) against the
# reference on PyTorch (bench/torch_vq_step.py), one shape after the other, same
# threads, same repeats. The step CPU speedup compares process CPU time (all threads),
# which a loaded machine inflates less than wall time. Prints one markdown table: eval forward and training step
# (forward with rotation trick + commitment loss + EMA, backward to the input) in ms,
# the speedup, and the peak memory (RSS growth) of each side's training step.
#
# usage: bench/compare_vq_step.sh [--vq PATH] [--python PATH] [--threads 2] [--repeats 5]
#                                 [--rounds 1] [--shapes "N,D,K N,D,K ..."] [--json-dir DIR]
#   --vq       the vq program (default: $VQ_BIN, else build/vq, else ../build*/vq)
#   --python   a Python with torch + vector-quantize-pytorch (default: $TORCH_PYTHON,
#              else /work/refenv/bin/python when present, else python3)
#   --rounds   run each shape's pair this many times, alternating ours / torch, and
#              report the median over rounds (helps on a shared, noisy machine)
#   --shapes   default: "16384,256,1024 65536,64,4096 65536,8,1024 12544,32,256"
#              (the last is the Fashion-MNIST example's VQ layer)
#   --json-dir keep every raw JSON result there
# Both programs inherit the environment: on a shared machine OMP_WAIT_POLICY=passive
# keeps libgomp's spinning workers from turning each parallel region into a scheduler
# time slice (docs/performance.md, "VectorQuantize step").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
vq="${VQ_BIN:-}"
py="${TORCH_PYTHON:-}"
threads=2
repeats=5
rounds=1
shapes="16384,256,1024 65536,64,4096 65536,8,1024 12544,32,256"
json_dir=""

die() { echo "compare_vq_step.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --vq) vq="${2:?--vq needs a value}"; shift 2 ;;
    --python) py="${2:?--python needs a value}"; shift 2 ;;
    --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
    --repeats) repeats="${2:?--repeats needs a value}"; shift 2 ;;
    --rounds) rounds="${2:?--rounds needs a value}"; shift 2 ;;
    --shapes) shapes="${2:?--shapes needs a value}"; shift 2 ;;
    --json-dir) json_dir="${2:?--json-dir needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for v in "$threads" "$repeats" "$rounds"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "--threads, --repeats and --rounds take positive integers, got '$v'"
done
if [[ -z "$vq" ]]; then
  for c in "$root/build/vq" "$root"/../build*/vq; do
    if [[ -x "$c" ]]; then vq="$c"; break; fi
  done
fi
[[ -n "$vq" && -x "$vq" ]] || die "no vq program found: build it or pass --vq PATH"
if [[ -z "$py" ]]; then
  if [[ -x /work/refenv/bin/python ]]; then py=/work/refenv/bin/python; else py=python3; fi
fi
"$py" -c "import torch, vector_quantize_pytorch" 2>/dev/null \
  || die "$py cannot import torch and vector_quantize_pytorch (pass --python PATH)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out="${json_dir:-$tmp}"
mkdir -p "$out"

echo "# compare_vq_step: $(date -u +%Y-%m-%dT%H:%MZ) host=$(hostname) cpus=$(nproc)" \
     "load=$(cut -d' ' -f1-3 /proc/loadavg) threads=$threads repeats=$repeats rounds=$rounds"
echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "# env: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-<unset>} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-<unset>}" \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>} (both sides inherit them)"
echo "# vq: $vq"
echo "# torch: $("$py" -c 'import torch, vector_quantize_pytorch as v, importlib.metadata as m; print("torch", torch.__version__, "vector-quantize-pytorch", m.version("vector-quantize-pytorch"))')"

for shape in $shapes; do
  IFS=, read -r n d k <<<"$shape"
  [[ "$n" =~ ^[0-9]+$ && "$d" =~ ^[0-9]+$ && "$k" =~ ^[0-9]+$ ]] || die "bad shape '$shape' (want N,D,K)"
  for ((r = 1; r <= rounds; r++)); do
    tag="n${n}_d${d}_k${k}_r${r}"
    echo "# running N=$n D=$d K=$k round $r" >&2
    OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" \
      "$vq" bench vq --n "$n" --dim "$d" --codebook-size "$k" --threads "$threads" \
      --repeats "$repeats" --rows sgemm,search,forward,step --json >"$out/ours_$tag.json"
    OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" \
      "$py" "$here/torch_vq_step.py" --n "$n" --dim "$d" --codebook-size "$k" \
      --threads "$threads" --repeats "$repeats" >"$out/torch_$tag.json"
  done
done

python3 - "$out" "$shapes" "$rounds" <<'EOF'
import json, statistics, sys
out, shapes, rounds = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])

def load(side, tag):
    with open(f"{out}/{side}_{tag}.json") as f:
        return json.load(f)["results"]

def med(side, n, d, k, row, field):
    vals = [load(side, f"n{n}_d{d}_k{k}_r{r}")[row][field] for r in range(1, rounds + 1)]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None

def mib(b):
    return "n/a" if b is None else f"{b / 2**20:.1f}"

print("| N, D, K | ours step ms | torch step ms | step speedup | step CPU speedup | ours fwd ms "
      "| torch fwd ms | fwd speedup | ours step / sgemm | ours step peak MiB | torch step peak MiB |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for s in shapes:
    n, d, k = s.split(",")
    os_, ts = med("ours", n, d, k, "step", "ms"), med("torch", n, d, k, "step", "ms")
    of, tf = med("ours", n, d, k, "forward", "ms"), med("torch", n, d, k, "forward", "ms")
    ratio = med("ours", n, d, k, "step", "ratio_to_sgemm")
    oc, tc = med("ours", n, d, k, "step", "cpu_ms"), med("torch", n, d, k, "step", "cpu_ms")
    cpu_ratio = f"{tc / oc:.1f}x" if oc and tc else "n/a"
    om, tm = med("ours", n, d, k, "step", "peak_mem_bytes"), med("torch", n, d, k, "step", "peak_mem_bytes")
    print(f"| {n}, {d}, {k} | {os_:.1f} | {ts:.1f} | {ts / os_:.1f}x | {cpu_ratio} | {of:.1f} | {tf:.1f} | "
          f"{tf / of:.1f}x | {ratio:.2f} | {mib(om)} | {mib(tm)} |")
EOF
