#!/usr/bin/env bash
# Installs the Debian 12 packages moesim needs, skipping those already installed.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libboost-graph-dev libboost-program-options-dev   # topologies, command line
  libyaml-cpp-dev                                   # scenarios
  libhdf5-dev                                       # traces and results (C and C++ API)
  libeigen3-dev                                     # the LSTM load predictor's matrix algebra
  nlohmann-json3-dev                                # timeline.json
  libzip-dev                                        # PyTorch .pt files (zip archives): SGLang and HF routing dumps
  libopenmpi-dev openmpi-bin                        # sweeps over MPI ranks (optional at build time)
  libgtest-dev libgmock-dev libbenchmark-dev        # tests, benchmarks
  clang libclang-rt-14-dev                          # libFuzzer targets (scripts/fuzz.sh)
  clang-format clang-tidy                           # scripts/format.sh, scripts/check-size.sh
  python3 python3-h5py python3-matplotlib python3-numpy   # results/plot.py
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
