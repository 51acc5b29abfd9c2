#!/usr/bin/env bash
# Regenerate serve/generated/ from proto/synthos/v1/*.proto (needs grpcio-tools).
#   scripts/gen_proto.sh           rewrite the generated code
#   scripts/gen_proto.sh --check   exit 1 if it is stale
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
exec "$SYNTHOS_PYTHON" -m serve.protogen "$@"
