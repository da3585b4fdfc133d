#!/usr/bin/env bash
# Create (or reuse) .venv and install deepthinker-nb into it. Sourced by scripts/demo and
# scripts/test so each is one command on a fresh machine. EXTRAS selects optional extras.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DEEPTHINKER_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON_BIN:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating $VENV" >&2
    "$PYTHON_BIN" -m venv "$VENV"
fi
stamp="$VENV/.deepthinker-installed-${EXTRAS:-base}"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "bootstrap: installing deepthinker-nb${EXTRAS:+[$EXTRAS]} (first run only)" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT${EXTRAS:+[$EXTRAS]}"
    # An editable install compiles nothing; where PYTHONDONTWRITEBYTECODE is set, every
    # process (each kernel, each CLI call) would compile the package from source again.
    "$VENV/bin/python" -m compileall -q "$ROOT/deepthinker_nb" >/dev/null || true
    # The scanner's index of installed helpers that start processes or open sockets: built once
    # per environment, with a copy in the venv where kernels (another HOME) read it.
    "$VENV/bin/python" -c "from deepthinker_nb.scanner.envindex import main; main(['--install'])" \
        >/dev/null 2>&1 || echo "bootstrap: the scanner's environment index was not built" >&2
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"

# Local kernels run inside Linux namespaces made by bubblewrap; install it where we can.
if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing bubblewrap (the local kernels' sandbox)" >&2
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap \
          || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; }
        } >/dev/null 2>&1 || echo "bootstrap: could not install bubblewrap" >&2
    else
        echo "bootstrap: bubblewrap (bwrap) is missing and local kernels need it:" \
             "sudo apt-get install bubblewrap (or dnf/pacman install bubblewrap)" >&2
    fi
fi
