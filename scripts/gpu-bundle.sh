#!/usr/bin/env bash
# Packs what one GPU check needs into .gpu/ (git-ignored; pass it to the device tool as `carry`):
# the CUDA build's binaries (stripped), the shared libraries they load that the GPU machine lacks
# (all xz-compressed), and a group of reference models from ../shared with their golden outputs.
#   scripts/gpu-bundle.sh BUILD_DIR MODEL...   (MODEL: a name in ../shared/models, e.g. llama-gqa-q4_0)
# The whole tree that travels is limited to 64 MiB: pick the models per call accordingly.
set -euo pipefail
build=$(realpath "$1"); shift
base=${RF_BASE_ROCMFORGE:+$(realpath "$RF_BASE_ROCMFORGE")}  # (paths as given, before the cd)
cd "$(dirname "$0")/.."
shared=${ROCMFORGE_SHARED_DIR:-../shared}
dest=.gpu
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib" "$dest/shared/models" "$dest/shared/quant"

bins=(src/cli/rocmforge tools/rocmforge-synth tests/backend/test_backend_ops tests/model/test_model_conformance
      tests/engine/test_engine tests/engine/test_scheduler_reference tests/server/test_server_e2e tests/model/test_hybrid
      bench/kernels/gpu_products_bench tests/gpu/test_nccl_library tests/model/test_tensor_parallel)
for b in "${bins[@]}"; do
  [ -x "$build/$b" ] || { echo "gpu-bundle: $build/$b is missing (build it first)" >&2; exit 1; }
  strip -o "$dest/bin/$(basename "$b")" "$build/$b"
done
# RF_OTHER_BENCHES: gpu_products_bench programs built from other code (main before a kernel change,
# variants of a kernel), run beside this build's by the device script's `products` step.
for b in ${RF_OTHER_BENCHES:-}; do strip -o "$dest/bin/gpu_products_bench_$(basename "$b")" "$b"; done  # (absolute paths)
# RF_BASE_ROCMFORGE: a rocmforge built from other code, whose batched curve the bench step adds.
[ -z "$base" ] || strip -o "$dest/bin/rocmforge_base" "$base"

# Libraries from this machine's packages that an Ubuntu machine with only CUDA does not have;
# glibc and libstdc++ are newer there and stay the system's, and cuBLAS is the CUDA toolkit's there.
system='linux-vdso|ld-linux|libc\.so|libm\.so|libmvec\.so|libdl\.so|librt\.so|libpthread\.so|libgcc_s|libstdc\+\+|libz\.so|libcublas'
for b in "$dest"/bin/*; do ldd "$b"; done | awk '/=> \// {print $3}' | sort -u | grep -Ev "$system" |
  while read -r lib; do cp -L "$lib" "$dest/lib/"; done
tar -C "$dest" -cf - bin lib | xz -T2 -9 >"$dest/programs.tar.xz" && rm -rf "$dest/bin" "$dest/lib"

cp "$shared/quant/quant-zoo.gguf" "$dest/shared/quant/"
for m in "$@"; do
  cp "$shared/models/$m.gguf" "$shared/models/$m.golden.json" "$dest/shared/models/"
done
du -sh "$dest" "$dest"/* | sed 's/^/gpu-bundle: /'
