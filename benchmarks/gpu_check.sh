#!/usr/bin/env bash
# GPU readiness check for `seldb ingest`, from a fresh clone on a machine with an NVIDIA GPU (see docs/gpu.md):
#
#   benchmarks/gpu_check.sh                          # install, generate JPEGs, measure alexnet and vgg16 on CUDA
#   GPU_CHECK_DEVICE=cpu benchmarks/gpu_check.sh     # dry run on the CPU with tiny sizes
#   benchmarks/gpu_check.sh --images 16384 --workers 15   # arguments go to benchmarks/gpu_check.py
#
# It installs seldb with its torch and test extras into a virtual environment of its own
# (GPU_CHECK_VENV, default /tmp/seldb-gpu-check-venv; reused when it exists), made with python3 or
# GPU_CHECK_BASE_PYTHON (3.11 or newer). GPU_CHECK_PYTHON=PATH uses that interpreter as it is instead
# (no venv, no install).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
device=${GPU_CHECK_DEVICE:-cuda}

if [[ $device == cuda* ]] && ! nvidia-smi -L >/dev/null 2>&1 && ! ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
    echo "gpu_check: no CUDA device here (no NVIDIA GPU found); GPU_CHECK_DEVICE=cpu runs the dry run" >&2
    exit 2
fi

python=${GPU_CHECK_PYTHON:-}
if [[ -z $python ]]; then
    venv=${GPU_CHECK_VENV:-/tmp/seldb-gpu-check-venv}
    base=${GPU_CHECK_BASE_PYTHON:-python3}
    if ! "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "gpu_check: seldb needs Python 3.11 or newer; $base is not (GPU_CHECK_BASE_PYTHON=python3.11 picks another)" >&2
        exit 2
    fi
    [[ -x $venv/bin/python ]] || "$base" -m venv "$venv"
    echo "gpu_check: installing seldb[torch,test] into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root[torch,test]"
    python=$venv/bin/python
fi

exec "$python" "$root/benchmarks/gpu_check.py" --device "$device" "$@"
