#!/usr/bin/env bash
# Makes Debian's own PyTorch (python3-torch 1.13.1, the "local reference" baseline of
# ../shared/PERF.md 2.5) usable without root, beside the pinned reference: downloads the
# package and its dependencies with `apt-get download`, unpacks them with `dpkg -x` into
# DIR/root, installs vector-quantize-pytorch 1.32.0 and its pure-Python dependencies
# into DIR/site with pip --no-deps, and writes DIR/python, a wrapper that runs the
# system /usr/bin/python3 against that tree. Then:
#   bench/compare_vq_step.sh --python DIR/python
# usage: bench/debian_torch_env.sh DIR [PIP]   (PIP: a pip able to download wheels,
#        default: pip3; nothing outside DIR is written)
set -euo pipefail

dir="${1:?usage: bench/debian_torch_env.sh DIR [PIP]}"
pip="${2:-pip3}"
mkdir -p "$dir/debs" "$dir/root" "$dir/site"
dir="$(cd "$dir" && pwd)"

pkgs=$(apt-get install -s --no-install-recommends python3-torch 2>/dev/null | awk '/^Inst /{print $2}')
[[ -n "$pkgs" ]] || { echo "debian_torch_env.sh: apt-get found nothing to install (is python3-torch already installed? then use /usr/bin/python3)" >&2; exit 2; }
(cd "$dir/debs" && apt-get download $pkgs >/dev/null)
for d in "$dir"/debs/*.deb; do dpkg -x "$d" "$dir/root"; done

"$pip" install -q --no-deps --target "$dir/site" vector-quantize-pytorch==1.32.0 einx==0.4.3 \
  einops==0.8.2 loguru==0.7.3 torch-einops-utils==0.2.0 frozendict==2.5.1

cat >"$dir/python" <<EOF
#!/usr/bin/env bash
# Debian python3-torch unpacked by bench/debian_torch_env.sh, with the pinned reference.
R="$dir/root"
export LD_LIBRARY_PATH="\$R/lib/x86_64-linux-gnu:\$R/usr/lib:\$R/usr/lib/x86_64-linux-gnu:\${LD_LIBRARY_PATH:-}"
export PYTHONPATH="\$R/usr/lib/python3/dist-packages:$dir/site"
exec /usr/bin/python3 "\$@"
EOF
chmod +x "$dir/python"
"$dir/python" -c 'import torch, vector_quantize_pytorch; print("ok: torch", torch.__version__)'
