# Source me: creates (once) and activates the project's virtual environment in .venv.
# CPU machines get the local CPU torch wheel (torch==2.13.0), not gigabytes of CUDA packages.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_venv="$_root/.venv"
if [ ! -f "$_venv/.speechdis-installed" ] || [ "$_root/pyproject.toml" -nt "$_venv/.speechdis-installed" ]; then
  echo "[env] setting up $_venv" >&2
  python3 -m venv "$_venv" || return 1
  "$_venv/bin/python" -m pip install -q --upgrade pip >&2 || return 1
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    "$_venv/bin/python" -m pip install -q torch >&2 || return 1
  else
    "$_venv/bin/python" -m pip install -q "torch==2.13.0" >&2 || return 1
  fi
  "$_venv/bin/python" -m pip install -q -e "$_root[dev]" >&2 || return 1
  touch "$_venv/.speechdis-installed"
fi
# shellcheck disable=SC1091
. "$_venv/bin/activate"
unset _root _venv
