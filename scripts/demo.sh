#!/usr/bin/env bash
# The one command that runs the main job: installs what is missing (Node 22,
# npm dependencies), builds the web console if needed, then starts relay +
# simulated BMCs + agent on loopback and prints the URL and demo credentials.
#   scripts/demo.sh [--count N] [--port P] [--data-dir DIR] [--fresh]
#   scripts/demo.sh --topology regional [--count N] [--port P] [--data-dir DIR]
#     PostgreSQL, one manager, three gateways (two eu-central, one us-east) and two agents (docs/deployment.md)
set -euo pipefail
source "$(dirname "$0")/env.sh"
ensure_deps
cd "$LIGHTSOUT_ROOT"
web=desktop/out/web/index.html
if [ ! -f "$web" ] || [ -n "$(find desktop/src shared/src desktop/vite desktop/vite.web.config.ts -newer "$web" -print -quit 2>/dev/null)" ]; then
  echo "lightsout: building the web console" >&2
  npm run --silent build:web -w @lightsout/desktop >&2
fi
# The relay, agent and simulator start compiled (scripts/build.ts); rebuilt only when a source changed.
node --import tsx scripts/build.ts --if-stale >&2
for arg in "$@"; do
  case "$arg" in
    --topology | --topology=*) exec node --import tsx scripts/demo-regional.ts "$@" ;;
  esac
done
exec node --import tsx scripts/demo.ts "$@"
