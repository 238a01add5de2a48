#!/usr/bin/env bash
# Prepare Genesys' AudioHook reference implementation (client + conformance suite) OUTSIDE this repository,
# idempotently, and print how to run both against a Callwarden server.
#
#   scripts/audiohook-reference.sh [SOURCE]
#
# SOURCE: a git bundle, directory or URL of purecloudlabs/audiohook-reference-implementation to clone from
#         (needed only the first time; default: the bundle ../shared/tools/audiohook-reference-implementation.bundle
#         beside the repository, commit 2871b01, MIT). npm installs the client's and the suite's packages from the
#         configured registry. Any failure exits non-zero with the reason: CI (.ci/run) runs this and stops.
# AHREF:  where the checkout lives (default ~/.cache/callwarden/audiohook-reference, kept between runs). Never
#         inside this repository: no vendor code here. Preparation takes a lock, so parallel runs do not collide.
# Optional, to write $AHREF/testconfig.cfg: AH_URL (ws://127.0.0.1:PORT/ingest/audiohook), AH_API_KEY,
# AH_CLIENT_SECRET (base64).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED_TOOLS="$(cd "$REPO_ROOT/.." && pwd)/shared/tools"
AHREF="${AHREF:-${XDG_CACHE_HOME:-$HOME/.cache}/callwarden/audiohook-reference}"
SOURCE="${1:-$SHARED_TOOLS/audiohook-reference-implementation.bundle}"
EXPECTED_COMMIT=2871b01
SHIM="$SHARED_TOOLS/rawmode-shim.js"

die() { echo "audiohook-reference: $*" >&2; exit 1; }
say() { echo "audiohook-reference: $*" >&2; }

command -v node >/dev/null || die "node not found (need Node >= 16; apt-get install nodejs npm)"
command -v npm >/dev/null || die "npm not found (apt-get install npm)"
command -v git >/dev/null || die "git not found"
[ -f "$SHIM" ] || die "the raw-mode shim $SHIM is missing (the reference client needs it without a terminal)"

mkdir -p "$(dirname "$AHREF")"
ahref_abs="$(cd "$(dirname "$AHREF")" && pwd)/$(basename "$AHREF")"
case "$ahref_abs/" in
  "$REPO_ROOT"/*) die "AHREF=$ahref_abs is inside the repository; choose a scratch folder such as /tmp/ahref" ;;
esac

# One preparation at a time per checkout (CI and developers may share the cache folder).
exec 9>"$ahref_abs.lock"
flock 9

# 1. Checkout.
if [ ! -d "$AHREF/.git" ]; then
  [ -e "$SOURCE" ] || [[ "$SOURCE" == *://* ]] || die "no checkout at $AHREF and no source $SOURCE; pass the reference repository's git bundle, dir or URL"
  say "cloning $SOURCE into $AHREF"
  rm -rf "$AHREF.partial"
  git -c advice.detachedHead=false clone -q "$SOURCE" "$AHREF.partial" || die "git clone $SOURCE failed"
  mv "$AHREF.partial" "$AHREF"
fi
cd "$AHREF"
git cat-file -e "$EXPECTED_COMMIT^{commit}" 2>/dev/null || die "$AHREF does not hold commit $EXPECTED_COMMIT of the reference"
[ -f client/package.json ] && [ -f package.json ] || die "$AHREF does not look like audiohook-reference-implementation"

# 2. Lockfiles point at the vendor's internal npm mirror: use the configured registry instead (idempotent).
registry="$(npm config get registry 2>/dev/null | tail -n1)"
registry="${registry%/}/"
for lock in package-lock.json client/package-lock.json app/package-lock.json; do
  [ -f "$lock" ] && sed -i "s#https://[^/\"]*/repository/npm-cache/#${registry}#g" "$lock"
done

# 3. Dependencies (client first; the root install provides jest and what client imports from app/audiohook).
if [ ! -f client/node_modules/.callwarden-installed ]; then
  say "npm ci in client/ (registry $registry)"
  (cd client && npm ci --no-audit --no-fund) || die "npm ci in $AHREF/client failed (registry $registry)"
  touch client/node_modules/.callwarden-installed
fi
if [ ! -f node_modules/.callwarden-installed ]; then
  say "npm install at the root (registry $registry)"
  npm install --no-audit --no-fund || die "npm install in $AHREF failed (registry $registry)"
  touch node_modules/.callwarden-installed
fi
[ -x node_modules/.bin/jest ] || die "no jest in $AHREF/node_modules after npm install"

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
transcriptionConnector=${AH_TRANSCRIPTION_CONNECTOR:-false}
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
AH_CLIENT_SECRET and AH_TRANSCRIPTION_CONNECTOR=true|false set; a monitor-only server passes 12 and the suite
skips its 8 transcription-connector checks, a transcription connector passes all 20; the repository's other test
file is an AWS CDK stack test its authors skip; --forceExit because jest keeps the process alive after the run):
  cd $AHREF && timeout 400 npx jest --verbose --forceExit test/audiohook-api-messages.test.ts < /dev/null
EOF
