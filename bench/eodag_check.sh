#!/usr/bin/env bash
# Interoperability check, not part of the test suite: a third-party PEPS client, EODAG,
# searches the PEPS emulator and downloads from it (one product on disk, one on tape that
# EODAG must retry on 202 while the emulator stages it), then the zips' MD5 are compared
# with the catalogue's resourceChecksum.
#
# EODAG lives in its own virtual environment outside the repo ($EODAG_VENV, default
# /tmp/eodag-venv), pinned to the last 2.x release, which still ships the `peps` provider.
# Usage: bash bench/eodag_check.sh        (exit 0 when everything checked out)
set -euo pipefail

EODAG_VERSION="2.12.1"
EODAG_VENV="${EODAG_VENV:-/tmp/eodag-venv}"
source "$(dirname "${BASH_SOURCE[0]}")/eodag_setup.sh"
eodag_venv "$EODAG_VENV" "eodag==$EODAG_VERSION"
work_folder eodag-check

# The emulator on a free port (--port 0); its first line names the URL.
cd "$REPO"
"$PYTHON" -m tests.peps_emulator --port 0 --quiet --staging-delay "${STAGING_DELAY:-2}" \
    > "$WORK/emulator.out" 2>&1 &
EMU_PID=$!
emulator_url "$WORK/emulator.out"
echo "emulator: $URL (pid $EMU_PID); EODAG $EODAG_VERSION from $EODAG_VENV"

# Point EODAG's peps provider at the emulator (names as in eodag/resources/providers.yml).
cat > "$WORK/eodag.yml" <<EOF
peps:
    priority: 10
    search:
        api_endpoint: '$URL/resto/api/collections/{collection}/search.json'
    download:
        base_uri: '$URL/resto'
        outputs_prefix: '$WORK/out'
    auth:
        auth_uri: '$URL/resto/api/users/connect'
        credentials:
            username: demo@peps.example
            password: top secret
EOF

EODAG_CFG_DIR="$WORK/cfg" EODAG_CFG_FILE="$WORK/eodag.yml" \
    "$EODAG_VENV/bin/python" - "$URL" <<'PY'
import hashlib, json, logging, sys, time, urllib.request
import eodag
from eodag import EODataAccessGateway, setup_logging

setup_logging(verbose=0)
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("  [eodag] %(message)s"))
handler.addFilter(lambda r: "Retry" in r.getMessage() or "order" in r.getMessage())
logging.getLogger("eodag").addHandler(handler)
logging.getLogger("eodag").setLevel(logging.INFO)

base = sys.argv[1]
dag = EODataAccessGateway()
dag.set_preferred_provider("peps")
products, total = dag.search(
    productType="S2_MSI_L1C", start="2017-01-01", end="2017-02-01",
    geom={"lonmin": 1, "latmin": 43, "lonmax": 2, "latmax": 44}, items_per_page=50,
)
print(f"search: {total} result(s), {len(products)} on the page")
for p in products:
    print(f"  {p.properties['title']}  {p.properties['storageStatus']}")

def catalogue(title):
    """The emulator's own feature for a product (MD5 and storage as the catalogue says)."""
    query = f"{base}/resto/api/collections/S2ST/search.json?productIdentifier={title}"
    with urllib.request.urlopen(query, timeout=30) as answer:
        features = json.load(answer)["features"]
    return next(f["properties"] for f in features if f["properties"]["productIdentifier"] == title)

picks = [next(p for p in products if p.properties["storageStatus"] == status)
         for status in ("ONLINE", "OFFLINE")]
failures = 0
for p in picks:
    title, status = p.properties["title"], p.properties["storageStatus"]
    began = time.monotonic()
    try:
        # wait / timeout are in minutes: retry every 1.2 s for at most 1 min
        path = p.download(extract=False, wait=0.02, timeout=1, progress_callback=None)
    except Exception as exc:  # report, go on with the next product
        print(f"download {title} ({status}): FAILED {type(exc).__name__}: {exc}")
        failures += 1
        continue
    with open(path, "rb") as fh:
        md5 = hashlib.md5(fh.read()).hexdigest().upper()
    expected = catalogue(title)
    ok = md5 == (expected.get("resourceChecksum") or "").upper()
    failures += not ok
    print(f"download {title} ({status}) in {time.monotonic() - began:.1f} s -> {path}")
    print(f"  md5 {md5} vs catalogue {expected.get('resourceChecksum')}: {'OK' if ok else 'MISMATCH'}"
          f"; storage now {expected['storage']['mode']}")
print("EODAG", eodag.__version__, "check:", "PASSED" if not failures else f"{failures} FAILURE(S)")
sys.exit(1 if failures else 0)
PY
