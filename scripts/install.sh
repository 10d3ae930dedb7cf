#!/usr/bin/env bash
# Install napari-se3afm and everything it needs on a fresh Debian/Ubuntu machine with Python 3.11.
#   - system libraries for Qt/OpenGL under a virtual X server (Xvfb), as napari needs a real X server,
#     and Gwyddion, which opens the AFM formats this package has no reader of its own for
#   - a virtual environment .venv with the pinned Python set (CPU torch) and the package itself (editable)
# Re-running it is safe and fast: apt and pip skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v apt-get >/dev/null; then
  echo "[install] system libraries (Qt/OpenGL, Xvfb) and Gwyddion"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    xvfb xauth libgl1 libegl1 libgl1-mesa-dri libglx-mesa0 libegl-mesa0 \
    libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
    libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 \
    libdbus-1-3 libfontconfig1 fonts-dejavu-core gwyddion >/dev/null
else
  echo "[install] apt-get not found: install Xvfb, the Qt xcb libraries and Gwyddion yourself" >&2
fi

echo "[install] Python environment in .venv"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q -U pip
# torch is pinned first so that pip never pulls a CUDA build it does not need
.venv/bin/python -m pip install -q -r requirements.txt
.venv/bin/python -m pip install -q --no-build-isolation --no-deps -e .
echo "[install] done: $(.venv/bin/se3afm --version)"
