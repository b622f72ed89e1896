#!/usr/bin/env bash
# The main job. Installs dependencies (Debian packages, the dashboard's npm
# modules), builds everything, then starts a node with the live observer, a
# demo supervision tree and the benchmark dashboard, and prints its URL: open
# it as printed, since its ?token=... is what lets the page control the node
# (without it the page only observes). Stop it with Ctrl-C.
# RUSM_LISTEN=host:port changes the address (a non-loopback one warns);
# RUSM_DASHBOARD_TOKEN sets the token instead of a fresh random one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RUSM_BUILD_DIR:-$root/build}
"$root/scripts/bootstrap.sh"
"$root/scripts/build.sh"
if [ ! -f "$build/dashboard/index.html" ]; then
  echo "demo: the dashboard was not built (is npm installed? scripts/bootstrap.sh installs it)" >&2
  exit 1
fi
exec "$build/rusm" dashboard --listen "${RUSM_LISTEN:-127.0.0.1:4000}"
