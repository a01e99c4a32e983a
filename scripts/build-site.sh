#!/usr/bin/env bash
# Builds the browser half: the app crate for wasm32 with `hydrate`, then wasm-bindgen and
# wasm-opt, plus the stylesheet and public assets, into $SWITCHYARD_SITE_ROOT.
# Skips the work when the bundle is newer than every input.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# Per clone (./target/site): server-function URLs hash the crate path, so a bundle built
# from another checkout would call endpoints this server does not have.
site="${SWITCHYARD_SITE_ROOT:-$PWD/target/site}"
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/switchyard_app.wasm"

mkdir -p "$site/pkg" "$site/style"
cp -r public/. "$site/"
cp style/*.css "$site/style/"

if [ -f "$site/pkg/switchyard_bg.wasm" ] && [ -z "$(find app/src app/Cargo.toml Cargo.toml Cargo.lock .cargo scripts/env.sh scripts/build-site.sh style public -newer "$site/pkg/switchyard_bg.wasm" -print -quit)" ]; then
  echo "[site] bundle up to date: $site" >&2
  exit 0
fi
echo "[site] building the hydrate bundle (wasm32)" >&2
cargo build -p switchyard-app --lib --target wasm32-unknown-unknown \
  --no-default-features --features hydrate --profile wasm-release
wasm-bindgen --target web --no-typescript --remove-name-section \
  --out-dir "$site/pkg" --out-name switchyard "$wasm"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-reference-types --enable-multivalue --enable-mutable-globals \
  "$site/pkg/switchyard_bg.wasm" -o "$site/pkg/switchyard_bg.wasm.opt"
mv "$site/pkg/switchyard_bg.wasm.opt" "$site/pkg/switchyard_bg.wasm"
raw=$(stat -c %s "$site/pkg/switchyard_bg.wasm")
gz=$(gzip -9 -c "$site/pkg/switchyard_bg.wasm" | wc -c)
echo "[site] bundle: $raw bytes, $gz bytes gzip -> $site/pkg" >&2
