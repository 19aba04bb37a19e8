# Sourced by the EODAG checks (bench/eodag_check.sh, bench/eodag_geodes_check.sh): the repo,
# its python, EODAG in a virtual environment of its own, and a work folder removed at exit
# (with the emulator, once EMU_PID is set).
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3

# eodag_venv VENV PIP_SPEC: EODAG installed there as PIP_SPEC asks (nothing when it already is).
eodag_venv() {
    [ -x "$1/bin/python" ] || python3 -m venv "$1"
    "$1/bin/pip" install -q "$2" 2>&1 | grep -v "is ignored: it is neither" || true
    "$1/bin/python" -c "import eodag" || { echo "EODAG ($2) could not be installed in $1"; exit 1; }
}

# work_folder NAME: WORK, a fresh folder under /tmp; it and the emulator go at exit.
work_folder() {
    WORK="$(mktemp -d "/tmp/$1.XXXXXX")"
    EMU_PID=""
    trap 'if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT
}

# emulator_url FILE [MORE_FILES...]: URL, the emulator's address read off the first line it
# prints to FILE (it starts on a free port); exits naming what it printed if it never comes.
emulator_url() {
    URL=""
    for _ in $(seq 50); do
        URL="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$1" | head -n 1 || true)"
        [ -n "$URL" ] && return 0
        sleep 0.2
    done
    echo "emulator did not start:"; cat "$@"; exit 1
}
