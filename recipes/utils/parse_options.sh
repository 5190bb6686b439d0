# Kaldi-style option parsing (after utils/parse_options.sh), sourced by run.sh after its defaults:
# "--some-name VALUE" (or "--some-name=VALUE") sets the existing shell variable some_name; unknown
# options are an error; "--help" prints the variables and exits. Positional arguments are left in "$@".
_po_help() {
  # The script's header comment (usage and stage list), then each option with its default and the comment
  # that follows its assignment in the script ("name=value  # what it is").
  local script="$0" line name desc
  echo "usage: $0 [--option value ...]" >&2
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$script" >&2
  echo "options (default):" >&2
  for _po_v in $_po_vars; do
    desc=""
    line="$(grep -m1 -E "^${_po_v}=" "$script" 2>/dev/null || true)"
    case "$line" in *" # "*) desc="${line#* # }" ;; esac
    case "$_po_v" in
      stage) [ -n "$desc" ] || desc="first stage to run" ;;
      stop_stage) [ -n "$desc" ] || desc="last stage to run" ;;
      nj) [ -n "$desc" ] || desc="parallel jobs for data preparation and features" ;;
      corpus) [ -n "$desc" ] || desc="corpus root (read in place, never copied)" ;;
      exp) [ -n "$desc" ] || desc="models, logs and reports" ;;
      seeds) [ -n "$desc" ] || desc="training seeds of the final models (tables give mean ± std)" ;;
      device) [ -n "$desc" ] || desc="auto|cpu|cuda" ;;
      dtw_budget) [ -n "$desc" ] || desc="seconds the frame-DTW baseline may spend per evaluation" ;;
    esac
    eval "name=\"  --${_po_v//_/-} (\${$_po_v})\""
    if [ -n "$desc" ]; then printf '%-44s %s\n' "$name" "$desc" >&2; else echo "$name" >&2; fi
  done
}
_po_args=()
# shellcheck disable=SC2086 # word splitting on purpose: the list may span lines
_po_list=" $(echo $_po_vars) "
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) _po_help; exit 0 ;;
    --*=*) _po_name="${1%%=*}"; _po_value="${1#*=}"; shift ;;
    --*)
      _po_name="$1"
      if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
      _po_value="$2"; shift 2 ;;
    *) _po_args+=("$1"); shift; continue ;;
  esac
  _po_var="${_po_name#--}"
  _po_var="${_po_var//-/_}"
  case "$_po_list" in
    *" $_po_var "*) ;;
    *) echo "$0: unknown option $_po_name (try --help)" >&2; exit 1 ;;
  esac
  printf -v "$_po_var" '%s' "$_po_value"
done
set -- ${_po_args[@]+"${_po_args[@]}"}
unset _po_name _po_value _po_var _po_args _po_list
