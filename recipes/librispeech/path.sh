# Sourced by run.sh: the project's Python environment (created on first use by tools/env.sh), nothing else.
# shellcheck disable=SC1091
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tools/env.sh"
