#!/usr/bin/env bash
# Interoperability check, not part of the test suite: a third-party GEODES client, EODAG 4.x and
# its `geodes` provider, searches the GEODES emulator (S2 L1C over 31TCJ in January 2017 by
# EODAG's and by GEODES's collection name, a year of it paged 80 at a time, Theia MAJA L2A) and
# downloads one online L1C product, two offline ones and one Theia L2A product; each file's MD5
# and size are compared with those in the emulator's asset description, and the download
# requests each product got are read from the emulator's request lines
# (bench/eodag_geodes_driver.py). Offline products (the emulator answers 202 with an empty body
# until the file is online): the provider as shipped has no order_enabled, so EODAG gives up after
# the first 202 (NotAvailableError) and the product is fetched by a later download once EODAG's
# search (fastavailability) says it is online; with download order_enabled: true, a documented
# setting, EODAG retries the 202 itself until the file comes.
#
# EODAG lives in its own virtual environment outside the repo ($EODAG_VENV, default
# /tmp/eodag-geodes-venv), the newest 4.x release from PyPI ($EODAG_SPEC to pin another).
# It is pointed at the emulator only through its documented settings: a user configuration
# file (EODAG_CFG_FILE: the search endpoint, from which the provider also derives
# /fastavailability, the collections listing, and auth matching_url so that the API key goes to
# the emulator's host), the API key in EODAG__GEODES__AUTH__CREDENTIALS__APIKEY (never written),
# EODAG_CFG_DIR (its own folder, not ~/.config/eodag), EODAG_PROVIDERS_WHITELIST and
# EODAG_STRICT_COLLECTIONS (nothing fetched from the Internet).
# Usage: bash bench/eodag_geodes_check.sh      (exit 0 when everything checked out)
#        ONLINE_DELAY=3 OFFLINE_STATUS=503 bash bench/eodag_geodes_check.sh
#            (the emulator's --online-delay, and --offline-status: 202 default, 409, 423, 503)
#        EMULATOR_ARGS='--fault *:corrupt=1' bash bench/eodag_geodes_check.sh   (must then fail)
set -euo pipefail

EODAG_SPEC="${EODAG_SPEC:-eodag>=4,<5}"
EODAG_VENV="${EODAG_VENV:-/tmp/eodag-geodes-venv}"
source "$(dirname "${BASH_SOURCE[0]}")/eodag_setup.sh"
eodag_venv "$EODAG_VENV" "$EODAG_SPEC"
work_folder eodag-geodes-check

# The emulator on a free port (--port 0); its first line names the URL. Its request lines go to
# a file of their own, summed up at the end.
cd "$REPO"
OFFLINE_STATUS="${OFFLINE_STATUS:-202}"
read -r -a EXTRA_ARGS <<< "${EMULATOR_ARGS:-}"
"$PYTHON" -m tests.geodes_emulator --port 0 --online-delay "${ONLINE_DELAY:-2}" --offline-status "$OFFLINE_STATUS" \
    ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"} \
    > "$WORK/emulator.out" 2> "$WORK/requests.log" &
EMU_PID=$!
emulator_url "$WORK/emulator.out" "$WORK/requests.log"
# The demo key, as the emulator announces it (public, but still never printed here).
API_KEY="$(sed -n 's/^Demo API key: \([^ ]*\).*/\1/p' "$WORK/emulator.out" | head -n 1)"
[ -n "$API_KEY" ] || { echo "the emulator did not announce its demo API key"; exit 1; }
echo "emulator: $URL (pid $EMU_PID, online delay ${ONLINE_DELAY:-2} s, offline answer $OFFLINE_STATUS);" \
    "EODAG venv $EODAG_VENV"

# Names as in eodag/resources/providers/geodes.yml (search, auth); the download links are the
# items' own asset hrefs, which already point at the emulator.
cat > "$WORK/eodag.yml" <<EOF
geodes:
    priority: 10
    search:
        api_endpoint: '$URL/api/stac/search'
        discover_collections:
            fetch_url: '$URL/api/stac/collections'
    download:
        output_dir: '$WORK/out'
    auth:
        matching_url: '$URL'
EOF

began=$(date +%s%N)
status=0
env EODAG_CFG_DIR="$WORK/cfg" EODAG_CFG_FILE="$WORK/eodag.yml" \
    EODAG_PROVIDERS_WHITELIST='["geodes"]' EODAG_STRICT_COLLECTIONS=true \
    EODAG__GEODES__AUTH__CREDENTIALS__APIKEY="$API_KEY" OFFLINE_STATUS="$OFFLINE_STATUS" \
    "$EODAG_VENV/bin/python" "$REPO/bench/eodag_geodes_driver.py" "$URL" "$WORK/out" "$WORK/requests.log" || status=$?

echo "emulator's requests (method path status: count):"
sed -n 's/^\[geodes-emulator\] [^"]*"\([A-Z]*\) \([^ ?]*\)[^"]*" \([0-9]*\).*/\1 \2 \3/p' "$WORK/requests.log" \
    | sed -E 's#/api/download/[^ ]*#/api/download/<URN>/files/<md5>#; s#/items/[^ ]*#/items/<URN>#' \
    | sort | uniq -c | sed 's/^/  /'
if grep -q "$API_KEY" "$WORK/requests.log"; then
    echo "  FAIL the API key appears in a request line"; status=1
fi
elapsed_ms=$(( ($(date +%s%N) - began) / 1000000 ))
echo "total $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s (EODAG's start included), exit $status"
exit "$status"
