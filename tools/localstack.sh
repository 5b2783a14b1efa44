#!/usr/bin/env bash
# LocalStack for the project's tests, in host mode (no Docker), Lambda functions run by the
# local process executor of tools/lambda-executor.
#
#   tools/localstack.sh install   create/refresh .venv-localstack and .venv-lambda-runtime (idempotent)
#   tools/localstack.sh start     install, then start LocalStack in the background and wait until healthy
#   tools/localstack.sh stop      stop it (SIGTERM, then SIGKILL of its process group)
#   tools/localstack.sh status    exit 0 when running and healthy, 1 otherwise
#   tools/localstack.sh logs      tail the log (extra arguments go to tail, e.g. -f)
#
# Environment: PYTHON313 (interpreter to use), LOCALSTACK_PORT (default 4566),
# LOCALSTACK_START_TIMEOUT (seconds, default 90), LOCALSTACK_SERVICES (restrict SERVICES; default all).
# State (pid file, log, data) lives in .localstack/<port>/: one LocalStack per port, so a second
# LOCALSTACK_PORT in the same clone starts, stops and reports its own and never touches the first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${LOCALSTACK_PORT:-4566}"
STATE_DIR="$ROOT/.localstack/$PORT"
PID_FILE="$STATE_DIR/localstack.pid"
LOG_FILE="$STATE_DIR/localstack.log"
# The functions' AWS calls (tests/support/aws_calls.py), read by the authorization evaluation.
CALL_LOG="$STATE_DIR/aws-calls.jsonl"
LS_VENV="$ROOT/.venv-localstack"
RT_VENV="$ROOT/.venv-lambda-runtime"
CONSTRAINTS="$ROOT/tools/localstack/constraints.txt"
RT_REQUIREMENTS="$ROOT/tools/lambda-runtime-requirements.txt"
EXECUTOR_DIR="$ROOT/tools/lambda-executor"
LOCALSTACK_SPEC="localstack-core[runtime]==2026.3.0"
EXECUTOR_NAME="tr-local"
HEALTH_URL="http://127.0.0.1:$PORT/_localstack/health"
START_TIMEOUT="${LOCALSTACK_START_TIMEOUT:-90}"

say() { echo "localstack.sh: $*"; }
fail() { # fail EXIT_CODE MESSAGE
    echo "localstack.sh: $2" >&2
    exit "$1"
}

find_python313() {
    if [[ -n "${PYTHON313:-}" ]]; then
        [[ -x "$PYTHON313" ]] || fail 2 "PYTHON313=$PYTHON313 is not an executable Python 3.13"
        echo "$PYTHON313"
        return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        local candidate
        candidate="$(ls -d "$(pyenv root)"/versions/3.13*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)"
        if [[ -n "$candidate" && -x "$candidate" ]]; then
            echo "$candidate"
            return
        fi
    fi
    if command -v python3.13 >/dev/null 2>&1; then
        command -v python3.13
        return
    fi
    fail 2 "Python 3.13 is missing: install it with 'pyenv install 3.13' or set PYTHON313=/path/to/python3.13"
}

# pip, quiet, without the warnings about this machine's unused local index folders.
pip_quiet() {
    local venv="$1"
    shift
    { "$venv/bin/pip" --disable-pip-version-check -q "$@" 2>&1 1>&3 |
        { grep -v 'is ignored: it is neither a file nor a directory' >&2 || true; }; } 3>&1
}

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ensure_venv DIR PYTHON: (re)create DIR unless it is a venv of that Python's version.
ensure_venv() {
    local venv="$1" python="$2" want
    want="$("$python" -c 'import sys; print(sys.version.split()[0])')"
    if [[ -x "$venv/bin/python" ]] &&
        [[ "$("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)" == "$want" ]]; then
        return
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv"
}

cmd_install() {
    local python ls_hash exec_hash rt_hash
    python="$(find_python313)"
    local version_file
    version_file="$(mktemp)"
    "$python" -c 'import sys; print(sys.version)' >"$version_file"
    ls_hash="$(echo "$LOCALSTACK_SPEC" | hash_of - "$version_file" "$CONSTRAINTS" "$EXECUTOR_DIR/pyproject.toml")"
    exec_hash="$(find "$EXECUTOR_DIR/pyproject.toml" "$EXECUTOR_DIR/src" -type f \( -name '*.py' -o -name '*.toml' -o -name py.typed \) ! -path '*.egg-info*' | sort | xargs cat | sha256sum | cut -d' ' -f1)"
    rt_hash="$(hash_of "$version_file" "$RT_REQUIREMENTS")"
    rm -f "$version_file"

    if [[ "$(cat "$LS_VENV/.tr-stamp" 2>/dev/null)" != "$ls_hash" ]]; then
        say "installing LocalStack into .venv-localstack (about a minute)"
        ensure_venv "$LS_VENV" "$python"
        rm -f "$LS_VENV/.tr-stamp" "$LS_VENV/.tr-executor-stamp"
        pip_quiet "$LS_VENV" install -c "$CONSTRAINTS" "$LOCALSTACK_SPEC" "$EXECUTOR_DIR"
        echo "$ls_hash" >"$LS_VENV/.tr-stamp"
    fi
    if [[ "$(cat "$LS_VENV/.tr-executor-stamp" 2>/dev/null)" != "$exec_hash" ]]; then
        say "installing the Lambda executor (tools/lambda-executor) into .venv-localstack"
        pip_quiet "$LS_VENV" install --no-deps --force-reinstall "$EXECUTOR_DIR"
        echo "$exec_hash" >"$LS_VENV/.tr-executor-stamp"
    fi
    if [[ "$(cat "$RT_VENV/.tr-stamp" 2>/dev/null)" != "$rt_hash" ]]; then
        say "installing the Lambda runtime interpreter into .venv-lambda-runtime"
        ensure_venv "$RT_VENV" "$python"
        rm -f "$RT_VENV/.tr-stamp"
        pip_quiet "$RT_VENV" install -r "$RT_REQUIREMENTS"
        echo "$rt_hash" >"$RT_VENV/.tr-stamp"
    fi
}

healthy() {
    "$LS_VENV/bin/python" - "$HEALTH_URL" <<'EOF' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

port_taken() {
    "$LS_VENV/bin/python" - "$PORT" <<'EOF'
import socket, sys
with socket.socket() as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
    try:
        sock.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        sys.exit(0)
sys.exit(1)
EOF
}

# The pid from the pid file when that process is alive; a stale file is reported and removed.
live_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        echo "$pid"
        return 0
    fi
    say "removing stale pid file (LocalStack pid ${pid:-?} is not running)" >&2
    rm -f "$PID_FILE"
    return 1
}

cmd_start() {
    cmd_install
    mkdir -p "$STATE_DIR"
    local pid
    if pid="$(live_pid)"; then
        if healthy; then
            echo "LocalStack already running (pid $pid)"
            return 0
        fi
        say "LocalStack (pid $pid) is running but not answering; restarting it"
        cmd_stop
    fi
    if port_taken; then
        fail 2 "port $PORT on 127.0.0.1 is taken by another process: if it is a LocalStack started by this script elsewhere run its 'tools/localstack.sh stop', else find it with: ss -ltnp 'sport = :$PORT'"
    fi
    [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
    rm -f "$CALL_LOG" # a new LocalStack, a new call log (sessions read theirs from an offset)
    local started=$SECONDS
    local -a service_env=()
    [[ -n "${LOCALSTACK_SERVICES:-}" ]] && service_env=("SERVICES=$LOCALSTACK_SERVICES")
    (
        cd "$ROOT"
        exec env GATEWAY_LISTEN="127.0.0.1:$PORT" \
            LAMBDA_RUNTIME_EXECUTOR="$EXECUTOR_NAME" \
            TR_LAMBDA_PYTHON="$RT_VENV/bin/python" \
            TR_LAMBDA_SITE_DIR="$ROOT/tests/support/recorder_site" \
            TR_AWS_CALL_LOG="$CALL_LOG" \
            FILESYSTEM_ROOT="$STATE_DIR/data" \
            DNS_ADDRESS=0 \
            DISABLE_EVENTS=1 \
            SKIP_SSL_CERT_DOWNLOAD=1 \
            "${service_env[@]}" \
            setsid nohup "$LS_VENV/bin/python" -m localstack.runtime.main </dev/null >>"$LOG_FILE" 2>&1
    ) &
    pid=$!
    echo "$pid" >"$PID_FILE"
    say "starting LocalStack (pid $pid) on 127.0.0.1:$PORT, log $LOG_FILE"
    while ! healthy; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            tail -n 30 "$LOG_FILE" >&2 || true
            fail 1 "LocalStack exited during start (log above)"
        fi
        if ((SECONDS - started >= START_TIMEOUT)); then
            tail -n 30 "$LOG_FILE" >&2 || true
            cmd_stop >&2
            fail 1 "LocalStack did not answer $HEALTH_URL within ${START_TIMEOUT}s (log above)"
        fi
        sleep 0.5
    done
    echo "LocalStack ready at http://127.0.0.1:$PORT (pid $pid) in $((SECONDS - started)) s"
}

cmd_stop() {
    local pid
    if ! pid="$(live_pid)"; then
        echo "LocalStack is not running"
        return 0
    fi
    # Host-mode LocalStack may linger after SIGTERM: signal its whole process group, then kill it.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    # Lambda function processes run in sessions of their own: they end with their server's socket
    # closing, but make sure none of our group lingers.
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    echo "LocalStack stopped (pid $pid)"
}

cmd_status() {
    local pid
    if pid="$(live_pid)" && [[ -x "$LS_VENV/bin/python" ]] && healthy; then
        echo "LocalStack running (pid $pid) at http://127.0.0.1:$PORT"
        return 0
    fi
    echo "LocalStack not running"
    return 1
}

cmd_logs() {
    [[ -f "$LOG_FILE" ]] || fail 1 "no log yet ($LOG_FILE)"
    tail -n 100 "$@" "$LOG_FILE"
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
logs) shift && cmd_logs "$@" ;;
*)
    echo "usage: tools/localstack.sh {install|start|stop|status|logs}" >&2
    exit 2
    ;;
esac
