#!/usr/bin/env bash
# The one command that runs every test: installs what is missing (Node 22,
# npm dependencies, the Debian packages of the BMC lab), then lint, typecheck,
# unit + integration tests (vitest, against real peers), and the browser e2e
# suite (Playwright in Debian's Chromium).
#
#   scripts/test.sh            everything
#   scripts/test.sh unit       one stage: deps | lint | typecheck | build | unit | e2e
#   scripts/test.sh electron   the desktop app through Playwright's Electron
#                              support; not part of "everything", because it
#                              needs the Electron binary (a download this CI
#                              machine cannot reach) — it fails without it
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$LIGHTSOUT_ROOT"
stages=("${@:-all}")
want() { [ "${stages[0]}" = all ] || [[ " ${stages[*]} " == *" $1 "* ]]; }
asked() { [[ " ${stages[*]} " == *" $1 "* ]]; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "dependencies"
bash scripts/ensure-packages.sh
ensure_deps
export PATH="$LIGHTSOUT_ROOT/node_modules/.bin:$PATH"

if want lint; then step "lint (eslint, import rules)"; eslint --max-warnings 0 .; fi
# The committed RPC code must be what the .proto files generate (buf lint + generate, a few seconds).
if want lint; then step "generated RPC code is reproducible (npm run proto)"; npm run --silent proto:check; fi
if want typecheck; then step "typecheck (tsc -b, project references)"; tsc -b; fi
mkdir -p build
# The tests that start relay, agent and bmcsim processes start these bundles (their bin/ files do, while current).
if want build || want unit || want e2e || asked electron; then
  step "build (relay, agent, bmcsim bundles; the desktop app's main, preload and renderer)"
  node --import tsx scripts/build.ts --if-stale
  # What electron-builder packages; the packaging itself needs the Electron binary (docs/operations.md).
  npm run --silent build -w @lightsout/desktop >/dev/null
  # The web console the relays serve (desktop/out/web): tests that open it in Chromium, and the e2e suite.
  npm run --silent build:web -w @lightsout/desktop >/dev/null
fi
counts=()
if want unit; then
  step "unit + integration (vitest)"
  vitest run --reporter=default --reporter=json --outputFile.json=build/vitest-report.json
  counts+=(build/vitest-report.json)
fi
if want e2e; then
  step "e2e (playwright, Debian chromium)"
  if [ -f e2e-playwright/playwright.config.ts ]; then
    (cd e2e-playwright && PLAYWRIGHT_JSON_OUTPUT_NAME="$LIGHTSOUT_ROOT/build/playwright-report.json" playwright test --project=web --reporter=list,json)
    counts+=(build/playwright-report.json)
  else
    echo "no e2e suite yet"
  fi
fi
if asked electron; then
  step "desktop app (playwright, Electron)"
  npm run build -w @lightsout/desktop
  (cd e2e-playwright && PLAYWRIGHT_JSON_OUTPUT_NAME="$LIGHTSOUT_ROOT/build/playwright-electron-report.json" playwright test --project=electron --reporter=list,json)
  counts+=(build/playwright-electron-report.json)
fi
step "all requested stages passed"
# One plain closing line over both runners: "N passed, N failed, N skipped".
[ ${#counts[@]} -eq 0 ] || node scripts/test-summary.mjs "${counts[@]}"
