# Shared shell helpers for scripts/*. Sourced, not executed.
PODSERVE_CACHE="${PODSERVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podserve}"
mkdir -p "$PODSERVE_CACHE"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The interpreter that creates venvs: the one on PATH if it has venv support, else Debian's.
system_python() {
  if command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; then
    command -v python3
  else
    echo /usr/bin/python3
  fi
}
