#!/usr/bin/env bash
# Prepare Genesys' AudioHook reference implementation (client + conformance suite) OUTSIDE this repository,
# idempotently, and print how to run both against a Callwarden server.
#
#   scripts/audiohook-reference.sh [SOURCE]
#
# SOURCE: a git directory or URL of purecloudlabs/audiohook-reference-implementation to clone from
#         (needed only the first time; e.g. the path the project's `fetch` tool returned).
# AHREF:  where the checkout lives (default /tmp/ahref). Never inside this repository: no vendor code here.
# Optional, to write $AHREF/testconfig.cfg: AH_URL (ws://127.0.0.1:PORT/ingest/audiohook), AH_API_KEY,
# AH_CLIENT_SECRET (base64).
set -euo pipefail

AHREF="${AHREF:-/tmp/ahref}"
SOURCE="${1:-}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHIM="$(cd "$REPO_ROOT/.." && pwd)/shared/tools/rawmode-shim.js"

die() { echo "audiohook-reference: $*" >&2; exit 1; }
say() { echo "audiohook-reference: $*" >&2; }

command -v node >/dev/null || die "node not found (need Node >= 16; apt-get install nodejs npm)"
command -v npm >/dev/null || die "npm not found (apt-get install npm)"
command -v git >/dev/null || die "git not found"

mkdir -p "$(dirname "$AHREF")"
ahref_abs="$(cd "$(dirname "$AHREF")" && pwd)/$(basename "$AHREF")"
case "$ahref_abs/" in
  "$REPO_ROOT"/*) die "AHREF=$ahref_abs is inside the repository; choose a scratch folder such as /tmp/ahref" ;;
esac

# 1. Checkout.
if [ ! -d "$AHREF/.git" ]; then
  [ -n "$SOURCE" ] || die "no checkout at $AHREF; pass the reference repository's git dir or URL as argument"
  say "cloning $SOURCE into $AHREF"
  git clone -q "$SOURCE" "$AHREF"
fi
cd "$AHREF"
[ -f client/package.json ] && [ -f package.json ] || die "$AHREF does not look like audiohook-reference-implementation"

# 2. Lockfiles point at the vendor's internal npm mirror: use the configured registry instead (idempotent).
registry="$(npm config get registry 2>/dev/null | tail -n1)"
registry="${registry%/}/"
for lock in package-lock.json client/package-lock.json app/package-lock.json; do
  [ -f "$lock" ] && sed -i "s#https://[^/\"]*/repository/npm-cache/#${registry}#g" "$lock"
done

# 3. Dependencies (client first; the root install provides jest and what client imports from app/audiohook).
if [ ! -d client/node_modules ]; then
  say "npm ci in client/"
  (cd client && npm ci --no-audit --no-fund)
fi
if [ ! -d node_modules/jest ]; then
  say "npm install at the root"
  npm install --no-audit --no-fund
fi

# 4. Build the client (the repo's own `npm run build` fails on lint errors; tsc alone is enough).
entry=client/dist/client/src/index.js
if [ ! -f "$entry" ] || [ -n "$(find client/src app/audiohook/src -newer "$entry" -name '*.ts' -print -quit)" ]; then
  say "building the client with tsc"
  npx --no-install tsc -p client/tsconfig.json
fi
[ -f "$entry" ] || die "build produced no $entry"

# 5. Optional suite configuration.
if [ -n "${AH_URL:-}" ]; then
  [ -n "${AH_API_KEY:-}" ] && [ -n "${AH_CLIENT_SECRET:-}" ] || die "AH_URL given: also set AH_API_KEY and AH_CLIENT_SECRET"
  cat > testconfig.cfg <<EOF
[EndPoint]
url=${AH_URL}
[Authentication]
apiKey=${AH_API_KEY}
clientSecret=${AH_CLIENT_SECRET}
[OpenParameters]
customConfig={}
language=en-US
[Features]
singleChannel=true
doubleChannel=true
transcriptionConnector=false
EOF
  say "wrote $AHREF/testconfig.cfg for $AH_URL"
fi

cat <<EOF
AudioHook reference ready in $AHREF (commit $(git rev-parse --short HEAD)).

Run the client (stereo 8 kHz 16-bit WAV, left = external/customer, right = internal/agent; exit code is
always 0, judge by its log and the server side):
  cd $AHREF/client && NODE_OPTIONS="--require $SHIM" \\
    node dist/client/src/index.js --uri ws://127.0.0.1:PORT/ingest/audiohook \\
    --api-key KEY --client-secret BASE64SECRET --wavfile /path/call.wav
  (connection probe: replace --wavfile … with --connection-probe)

Run the conformance suite (edit $AHREF/testconfig.cfg or rerun this script with AH_URL, AH_API_KEY,
AH_CLIENT_SECRET set; a minimal correct server passes 12 and skips 9; --forceExit because jest keeps the
process alive after the run):
  cd $AHREF && timeout 300 npx jest --verbose --forceExit < /dev/null
EOF
