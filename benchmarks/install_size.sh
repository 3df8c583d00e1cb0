#!/usr/bin/env bash
# Install size and package count of the client alone, the client with LocalCAVE, and caveclient 8.2.1:
# each into a fresh virtual environment, from our freshly built wheel or from PyPI.
# Usage: bash benchmarks/install_size.sh [WORKDIR]   (run from the repository root)
set -euo pipefail
root=$(pwd)
work=${1:-$(mktemp -d)}
uv build --wheel -q -o "$work/dist"
wheel=$(ls "$work"/dist/caveclient_gen-*.whl)
install() {  # name, requirement
  rm -rf "$work/v-$1"
  uv venv -q --python 3.11 "$work/v-$1"
  uv pip install -q --python "$work/v-$1/bin/python" "$2"
  local site count size
  site=$(echo "$work/v-$1"/lib/python3.*/site-packages)
  count=$(uv pip list -q --python "$work/v-$1/bin/python" --format freeze | wc -l)
  size=$(du -sk --exclude=__pycache__ "$site" | cut -f1)
  echo "$1: $count packages, $((size / 1024)) MiB in site-packages"
}
install client "$wheel"
install client-local "caveclient-gen[local] @ file://$wheel"
install caveclient "caveclient==8.2.1"
"$work/v-client/bin/python" -c "import caveclient_gen; caveclient_gen.CAVEclient"
if "$work/v-client/bin/python" -c "import starlette" 2>/dev/null; then
  echo "the client alone installed a web server" >&2; exit 1
fi
"$work/v-client-local/bin/python" -c "import caveclient_gen.testing"
cd "$root"
