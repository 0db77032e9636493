#!/usr/bin/env bash
# Quarto, run from its source tree, with every piece from the package registries: no Quarto binary download.
#
#   tools/quarto.sh                   install once (into the cache), check it, print how to put `quarto` on PATH
#   tools/quarto.sh nbdev-docs        run a command with this Quarto on PATH (nbdev-docs, nbdev-preview, nbdev-readme, quarto ...)
#   source tools/quarto.sh            install once and put `quarto` on this shell's PATH
#
# What it uses (pinned; linux x86_64 only):
#   Quarto  v1.7.34 source (commit below), the last release line whose tree vendors its Deno dependencies
#           (src/vendor/: jsr.io, deno.land, cdn.skypack.dev). From 1.8.3 on Quarto fetches them from jsr.io/deno.land
#           at configure time, which no registry serves. The source comes from a local git mirror ($QUARTO_GIT_DIR,
#           default /work/.mirror/quarto-dev+quarto-cli/repo) or, where GitHub is reachable (GitHub Actions), from
#           GitHub's tarball of the commit. It is unpacked into the cache, never into this repository.
#   deno    npm deno@1.46.3 (the @deno/linux-x64-glibc binary), the version Quarto 1.7 is built for
#   esbuild npm esbuild@0.19.12 (@esbuild/linux-x64)
#   sass    npm sass-embedded@1.85.1 (sass-embedded-linux-x64 ships the native Dart Sass)
#   pandoc  PyPI pypandoc-binary==1.15 wheel (pandoc 3.6.1; Quarto 1.7.34 ships 3.6.3, nothing on PyPI has it)
#   deno_dom: its native plugin (libplugin.so) is on GitHub releases only; Quarto falls back, by design, to the
#           WASM build of deno-dom vendored in its source (src/core/deno-dom.ts), so DENO_DOM_PLUGIN stays unset.
#   typst, the PDF engine, is not installed: HTML and Markdown (what nbdev needs) only; `quarto check` stops at it.
# Two things in the source tree are patched in the cache, never in the source: src/resources/formats/html/mermaid/
# mermaid.js (a large file a shallow mirror may lack) comes from npm mermaid@11.2.0 (dist/mermaid.js, byte-identical,
# checked by its git hash), and an import map (src/offline_import_map.json) adds to Quarto's own src/dev_import_map.json
# the two modules its vendoring missed ("colors", "io/types"), both pointed at files vendored in the tree.
#
# Cache: $MAE_NB_QUARTO_CACHE, default ~/.cache/mae_nb-quarto (about 500 MB). A second run reuses it.

_mae_nb_quarto_install() (
  set -euo pipefail
  QUARTO_TAG=v1.7.34
  QUARTO_COMMIT=facb8d49e047f7e39aeb5189235f2e4fedbf959d
  DENO_VERSION=1.46.3
  ESBUILD_VERSION=0.19.12
  SASS_VERSION=1.85.1
  MERMAID_VERSION=11.2.0 MERMAID_BLOB=cd95d1c5d146fc02264ffeedd91aa066aac75897
  PYPANDOC_BINARY_VERSION=1.15 PANDOC_VERSION=3.6.1
  C=$1
  key="quarto-$QUARTO_TAG deno-$DENO_VERSION esbuild-$ESBUILD_VERSION sass-$SASS_VERSION pandoc-$PANDOC_VERSION v2"
  if [[ -x $C/bin/quarto && "$(cat "$C/.installed" 2>/dev/null)" == "$key" ]]; then exit 0; fi
  [[ "$(uname -sm)" == "Linux x86_64" ]] || { echo "tools/quarto.sh: only linux x86_64 is supported (got $(uname -sm))" >&2; exit 1; }
  say() { printf '[quarto.sh] %s\n' "$*" >&2; }
  mkdir -p "$C"; rm -f "$C/.installed"

  say "npm: deno@$DENO_VERSION esbuild@$ESBUILD_VERSION sass-embedded@$SASS_VERSION -> $C/npm"
  mkdir -p "$C/npm"
  printf '{"private": true, "dependencies": {"deno": "%s", "esbuild": "%s", "sass-embedded": "%s"}}\n' \
    "$DENO_VERSION" "$ESBUILD_VERSION" "$SASS_VERSION" > "$C/npm/package.json"
  # no install scripts: the binaries come in the platform packages (optionalDependencies) themselves
  (cd "$C/npm" && npm install --no-audit --no-fund --ignore-scripts --omit=dev --loglevel=error >&2)
  DENO=$C/npm/node_modules/@deno/linux-x64-glibc/deno
  ESBUILD=$C/npm/node_modules/@esbuild/linux-x64/bin/esbuild
  SASS=$C/npm/node_modules/sass-embedded-linux-x64/dart-sass/sass
  chmod +x "$DENO" "$ESBUILD"  # their install scripts (skipped) would set this
  "$DENO" --version | grep -q "^deno $DENO_VERSION " || { say "FAILED: $DENO is not deno $DENO_VERSION"; exit 1; }
  [[ "$("$ESBUILD" --version)" == "$ESBUILD_VERSION" ]] || { say "FAILED: $ESBUILD is not esbuild $ESBUILD_VERSION"; exit 1; }
  [[ "$("$SASS" --version)" == "$SASS_VERSION" ]] || { say "FAILED: $SASS is not dart-sass $SASS_VERSION"; exit 1; }

  say "PyPI: pypandoc-binary==$PYPANDOC_BINARY_VERSION (pandoc $PANDOC_VERSION) -> $C/pandoc"
  if ! "$C/pandoc/pandoc" --version 2>/dev/null | head -1 | grep -qx "pandoc $PANDOC_VERSION"; then
    rm -rf "$C/pandoc" "$C/tmp"; mkdir -p "$C/pandoc" "$C/tmp"
    python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 \
      -d "$C/tmp" "pypandoc-binary==$PYPANDOC_BINARY_VERSION" >&2
    python3 - "$C/tmp" "$C/pandoc/pandoc" <<'EOF'
import sys, zipfile, glob, os, shutil
whl, = glob.glob(os.path.join(sys.argv[1], 'pypandoc_binary-*.whl'))
with zipfile.ZipFile(whl) as z, z.open('pypandoc/files/pandoc') as src, open(sys.argv[2], 'wb') as dst: shutil.copyfileobj(src, dst)
os.chmod(sys.argv[2], 0o755)
EOF
    rm -rf "$C/tmp"
    "$C/pandoc/pandoc" --version | head -1 | grep -qx "pandoc $PANDOC_VERSION" || { say "FAILED: the wheel's pandoc is not $PANDOC_VERSION"; exit 1; }
  fi

  S=$C/quarto-$QUARTO_TAG
  if [[ ! -f $S/.complete ]]; then
    rm -rf "$S"; mkdir -p "$S"
    GIT_DIR_=${QUARTO_GIT_DIR:-/work/.mirror/quarto-dev+quarto-cli/repo}
    if [[ -n "${QUARTO_SRC_TARBALL:-}" ]]; then
      say "Quarto source: $QUARTO_SRC_TARBALL"
      tar xzf "$QUARTO_SRC_TARBALL" -C "$S" --strip-components=1 --wildcards --no-wildcards-match-slash '*/src' '*/package/src' '*/configuration'
    elif git --git-dir="$GIT_DIR_" cat-file -e "$QUARTO_COMMIT^{commit}" 2>/dev/null; then
      say "Quarto source: $QUARTO_TAG ($QUARTO_COMMIT) from the git mirror $GIT_DIR_"
      # mermaid.js is excluded: a partial mirror may lack that blob (it is restored from npm below)
      git --git-dir="$GIT_DIR_" archive "$QUARTO_COMMIT" -- src package/src configuration \
          ':(exclude)src/resources/formats/html/mermaid/mermaid.js' 2> >(grep -v "$MERMAID_BLOB" >&2) | tar x -C "$S"
      n_tree=$(git --git-dir="$GIT_DIR_" ls-tree -r --name-only "$QUARTO_COMMIT" -- src package/src configuration | wc -l)
      n_here=$(cd "$S" && find src package/src configuration -type f | wc -l)
      [[ $n_here -eq $((n_tree - 1)) ]] || { say "FAILED: unpacked $n_here files of the $n_tree in $QUARTO_COMMIT"; exit 1; }
    else
      say "Quarto source: GitHub tarball of $QUARTO_COMMIT"
      curl -fsSL "https://github.com/quarto-dev/quarto-cli/archive/$QUARTO_COMMIT.tar.gz" -o "$C/quarto-src.tar.gz" || {
        say "FAILED: no Quarto source. Fetch github:quarto-dev/quarto-cli and set QUARTO_GIT_DIR to its git directory,"
        say "        or set QUARTO_SRC_TARBALL to a tarball of commit $QUARTO_COMMIT"; exit 1; }
      tar xzf "$C/quarto-src.tar.gz" -C "$S" --strip-components=1 --wildcards --no-wildcards-match-slash '*/src' '*/package/src' '*/configuration'
      rm -f "$C/quarto-src.tar.gz"
    fi
    M=$S/src/resources/formats/html/mermaid/mermaid.js
    if [[ ! -f $M ]]; then
      say "npm: mermaid@$MERMAID_VERSION dist/mermaid.js (the file Quarto $QUARTO_TAG vendors)"
      rm -rf "$C/tmp"; mkdir -p "$C/tmp"
      (cd "$C/tmp" && npm pack -q "mermaid@$MERMAID_VERSION" >/dev/null && tar xzf mermaid-*.tgz package/dist/mermaid.js)
      mv "$C/tmp/package/dist/mermaid.js" "$M"; rm -rf "$C/tmp"
    fi
    [[ "$(git hash-object "$M")" == "$MERMAID_BLOB" ]] || { say "FAILED: $M is not the file of $QUARTO_TAG"; exit 1; }
    # Quarto's dev import map (source imports -> src/vendor), plus the two modules its vendoring missed
    python3 - "$S/src" <<'EOF'
import json, sys, os
src = sys.argv[1]
m = json.load(open(os.path.join(src, 'dev_import_map.json')))
fix = {"colors": "./vendor/deno.land/std@0.224.0/fmt/colors.ts",   # std@0.217.0/fmt was not vendored
       "io/types": "./vendor/jsr.io/@std/io/0.224.8/types.ts"}     # a type-only import, skipped by `deno vendor`
for k, v in fix.items(): assert os.path.exists(os.path.join(src, v)), v
m['imports'].update(fix)
json.dump(m, open(os.path.join(src, 'offline_import_map.json'), 'w'), indent=1)
EOF
    say "checking that every module of Quarto resolves offline"
    bad=$(cd "$S/src" && NO_COLOR=1 DENO_DIR="$C/deno_dir" DENO_NO_UPDATE_CHECK=1 "$DENO" info --no-config --no-lock \
          --importmap=offline_import_map.json quarto.ts 2>&1 | grep -E '\((missing|loading error|resolution error)\)|^error' | sort -u || true)
    [[ -z $bad ]] || { say "FAILED: modules that do not resolve offline:"; echo "$bad" >&2; exit 1; }
    touch "$S/.complete"
  fi

  mkdir -p "$C/bin"
  cat > "$C/bin/quarto" <<EOF
#!/usr/bin/env bash
# Quarto $QUARTO_TAG from source, written by mae_nb's tools/quarto.sh (the way package/scripts/common/quarto runs it)
export QUARTO_DENO="$DENO" QUARTO_PANDOC="$C/pandoc/pandoc" QUARTO_ESBUILD="$ESBUILD" QUARTO_DART_SASS="$SASS"
export QUARTO_SHARE_PATH="$S/src/resources" QUARTO_BIN_PATH="$C/bin" QUARTO_FORCE_VERSION="${QUARTO_TAG#v}"
export DENO_DIR="$C/deno_dir" DENO_NO_UPDATE_CHECK=1 DENO_TLS_CA_STORE=system,mozilla
unset DENO_DOM_PLUGIN QUARTO_DENO_DOM  # the WASM deno-dom vendored in the source (no native plugin on the registries)
exec "\$QUARTO_DENO" run --unstable-ffi --unstable-kv --no-config --no-lock --cached-only --no-check --allow-all \\
  --v8-flags=--enable-experimental-regexp-engine,--max-old-space-size=8192,--max-heap-size=8192,--stack-trace-limit=100 \\
  --importmap="$S/src/offline_import_map.json" "$S/src/quarto.ts" "\$@"
EOF
  chmod +x "$C/bin/quarto"
  "$C/bin/quarto" --version | sed 's/\x1b\[[0-9;]*m//g' | grep -q "^quarto ${QUARTO_TAG#v}$" || { say "FAILED: $C/bin/quarto --version"; exit 1; }
  say "smoke test: quarto render of a page with math"
  T=$(mktemp -d); printf -- '---\ntitle: smoke\n---\n\n$$e^{i\\pi}+1=0$$\n' > "$T/smoke.qmd"
  (cd "$T" && "$C/bin/quarto" render smoke.qmd --quiet) && grep -q 'class="math' "$T/smoke.html" \
    || { say "FAILED: quarto render smoke.qmd (in $T)"; exit 1; }
  rm -rf "$T"
  echo "$key" > "$C/.installed"
  say "ready: $C/bin/quarto"
)

MAE_NB_QUARTO_CACHE=${MAE_NB_QUARTO_CACHE:-$HOME/.cache/mae_nb-quarto}
# (called as a plain command, not in `if`/`&&`/`||`, so that `set -e` holds inside it)
_mae_nb_quarto_install "$MAE_NB_QUARTO_CACHE"
_mae_nb_quarto_rc=$?
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then  # sourced: put quarto on this shell's PATH
  if [[ $_mae_nb_quarto_rc -eq 0 ]]; then
    case ":$PATH:" in *":$MAE_NB_QUARTO_CACHE/bin:"*) ;; *) export PATH="$MAE_NB_QUARTO_CACHE/bin:$PATH";; esac
  fi
  return $_mae_nb_quarto_rc
fi
[[ $_mae_nb_quarto_rc -eq 0 ]] || exit $_mae_nb_quarto_rc
export PATH="$MAE_NB_QUARTO_CACHE/bin:$PATH"
if [[ $# -gt 0 ]]; then exec "$@"; fi
echo "export PATH=\"$MAE_NB_QUARTO_CACHE/bin:\$PATH\"   # or: source tools/quarto.sh; or: tools/quarto.sh nbdev-docs"
