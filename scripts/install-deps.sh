#!/usr/bin/env bash
# Installs the Debian packages ROCmForge builds and tests with. Idempotent: quiet when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev
  libpcre2-dev libicu-dev
  libcpp-httplib-dev  # the HTTP client (OTLP exporter, CLI, tests)
  libboost-dev  # Boost.Asio and Boost.Beast: the server's HTTP transport (header-only)
  libcurl4-openssl-dev libssl-dev  # rocmforge pull: HTTP(S) downloads, SHA-256 checks (src/hub)
  libedit-dev  # line editing and history in `rocmforge chat`
  chromium  # the web chat page's browser test (test_server_web_page)
  python3  # tools/demo_model and its pipeline test (test_demo_export)
  libsqlite3-dev libhnswlib-dev  # the context store (ROCMFORGE_CONTEXT)
  hipcc libamdhip64-dev rocm-device-libs  # compile-only HIP check of the GPU kernels
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The server's end-to-end test drives it with the official `openai` npm client (Node.js is on the
# machine); the version is pinned by tests/server/js/package-lock.json.
js_tests="$(dirname "$0")/../tests/server/js"
if [ ! -d "$js_tests/node_modules/openai" ]; then
  echo "install-deps: npm ci in tests/server/js"
  npm ci --prefix "$js_tests" --no-audit --no-fund --loglevel=error >/dev/null
fi
