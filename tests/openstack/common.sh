# Shared by tests/openstack/start-*: writing configs, starting a daemon in its own
# process group with its PID recorded, bounded waits, and cleanup on failure.
# Sourced, not run. Everything listens on 127.0.0.1 only.

# Debian's python3 (the one the OpenStack packages are built for), not a pyenv shim.
# shellcheck disable=SC2034 # used by the scripts that source this file
PY=/usr/bin/python3

# PID files written by this run; on failure (see fail) only these are stopped.
STARTED_PIDFILES=()

# fail MESSAGE [LOG...]: print MESSAGE and the tail of each LOG to stderr, stop what this
# run started, exit 1.
fail() {
  local msg=$1; shift
  echo "$SCRIPT_NAME: $msg" >&2
  local log
  for log in "$@"; do
    if [ -s "$log" ]; then
      echo "--- last lines of $log ---" >&2
      tail -n 30 "$log" >&2
    fi
  done
  # Helpers still running in the background (a db sync), then the daemons.
  local job
  for job in $(jobs -p); do kill "$job" 2>/dev/null || true; done
  stop_started
  exit 1
}

# group_alive PGID: true while any non-zombie process is in process group PGID.
group_alive() {
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# stop_pidfile FILE: SIGTERM the process group recorded in FILE, wait up to 15 s, then
# SIGKILL; remove FILE.
stop_pidfile() {
  local file=$1 pid i
  pid=$(cat "$file" 2>/dev/null) || return 0
  case $pid in '' | *[!0-9]*) rm -f "$file"; return 0 ;; esac
  if group_alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      group_alive "$pid" || break
      sleep 0.1
    done
    if group_alive "$pid"; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        group_alive "$pid" || break
        sleep 0.1
      done
    fi
  elif kill -0 "$pid" 2>/dev/null; then
    # Not a group leader (should not happen): stop the process alone.
    kill -TERM "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop_started() {
  local f
  for f in "${STARTED_PIDFILES[@]}"; do stop_pidfile "$f"; done
  STARTED_PIDFILES=()
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_listening PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

check_port() {
  case $1 in '' | *[!0-9]*) fail "port '$1' is not a number" ;; esac
  if port_listening "$1"; then fail "127.0.0.1:$1 is already in use"; fi
}

# claim_port PORT: check_port, and note PORT in $STATE/ports for stop to verify.
claim_port() {
  check_port "$1"
  echo "$1" >>"$STATE/ports"
}

# spawn NAME LOG CMD...: start CMD in a new session (so its PID is also its process group,
# and stop can kill its workers too), stdin from /dev/null, output to LOG; record the PID
# in $STATE/NAME.pid.
spawn() {
  local name=$1 log=$2; shift 2
  setsid "$@" </dev/null >>"$log" 2>&1 &
  local pid=$!
  echo "$pid" >"$STATE/$name.pid"
  STARTED_PIDFILES+=("$STATE/$name.pid")
}

# Logs worth showing when a daemon fails, by daemon name (set by the start scripts).
declare -A DAEMON_LOGS=()

# wait_http NAME SECONDS WANT_CODE URL [CURL_ARGS...]: poll URL until it answers WANT_CODE;
# fail (with the tails of DAEMON_LOGS[NAME]) after SECONDS or when NAME's process died.
wait_http() {
  local name=$1 secs=$2 want=$3 url=$4; shift 4
  local pid code deadline logs
  read -r -a logs <<<"${DAEMON_LOGS[$name]:-}"
  pid=$(cat "$STATE/$name.pid")
  deadline=$((SECONDS + secs))
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" 2>/dev/null) || true
    [ "$code" = "$want" ] && return 0
    group_alive "$pid" || fail "$name exited before answering $url" "${logs[@]}"
    [ $SECONDS -ge $deadline ] &&
      fail "$name did not answer $want on $url within ${secs}s (last: $code)" "${logs[@]}"
    sleep 0.2
  done
}

# write_cinder_conf FILE PORT AUTH_STRATEGY: a private cinder.conf, all state under $STATE.
# For the API alone (no message bus, no backends) unless CINDER_TRANSPORT_URL (a rabbit://
# URL) and CINDER_ENABLED_BACKENDS are set; the file CINDER_EXTRA_CONF (the backend sections
# start-services writes) is appended.
write_cinder_conf() {
  local file=$1 port=$2 auth=$3
  mkdir -p "$STATE/cinder" "$STATE/cinder/locks"
  cat >"$file" <<EOF
[DEFAULT]
auth_strategy = $auth
transport_url = ${CINDER_TRANSPORT_URL:-fake://}
api_paste_config = /etc/cinder/api-paste.ini
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = $port
osapi_volume_workers = 1
my_ip = 127.0.0.1
host = cephboot-test
enabled_backends = ${CINDER_ENABLED_BACKENDS:-}
state_path = $STATE/cinder
log_file = $STATE/cinder-api.log
use_stderr = false
# The default accepts only hex ids; noauth tokens use names such as "admin".
project_id_regex = [0-9a-zA-Z_\-]+
# A volume service reports its capabilities to the scheduler every periodic_interval (60 s
# by default) and cinder-backup every backup_driver_stats_polling_interval (60 s), the first
# time after a random delay of up to periodic_fuzzy_delay (60 s). A test host's services start
# together, so the scheduler can miss a service's first report ("Service not found for
# creating backup" seen in CI 21 s after start): report often (cinder-backup every 10 s,
# its minimum) and from the start.
periodic_interval = 5
periodic_fuzzy_delay = 0
backup_driver_stats_polling_interval = 10

[database]
connection = sqlite:///$STATE/cinder/cinder.sqlite

[oslo_concurrency]
lock_path = $STATE/cinder/locks

[coordination]
backend_url = file://$STATE/cinder/locks

[oslo_messaging_notifications]
driver = noop
EOF
  if [ -n "${CINDER_EXTRA_CONF:-}" ]; then cat "$CINDER_EXTRA_CONF" >>"$file"; fi
}

# start_cinder_api CONF PORT: start cinder-api on a synced database, PID as cinder.pid.
start_cinder_api() {
  local conf=$1 port=$2
  check_port "$port"
  DAEMON_LOGS[cinder]="$STATE/cinder-api.out $STATE/cinder-api.log"
  spawn cinder "$STATE/cinder-api.out" cinder-api --config-file "$conf"
}

# start_cinder CONF PORT: db sync, then start_cinder_api.
start_cinder() {
  local conf=$1 port=$2
  if ! cinder-manage --config-file "$conf" db sync >"$STATE/cinder-manage.log" 2>&1; then
    fail "cinder-manage db sync failed" "$STATE/cinder-manage.log"
  fi
  # cinder-api, -scheduler, -volume and -backup all write this one sqlite file (heartbeats
  # every few seconds); with sqlite's default rollback journal a write that meets another
  # fails at once with "database is locked", which the API answers with HTTP 500 (a fresh
  # demo's volume type once failed so under CI load). WAL lets a writer wait its turn.
  $PY -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' \
    "$STATE/cinder/cinder.sqlite" || fail "could not switch the Cinder database to WAL"
  start_cinder_api "$conf" "$port"
}

# start_rabbitmq PORT: RabbitMQ as a plain process on 127.0.0.1:PORT (guest/guest), with its
# own epmd and distribution port on 127.0.0.1 (so two runs never share an epmd), all state
# under $STATE/rabbitmq; PIDs in rabbitmq.pid and epmd.pid. Returns at once; wait with
# wait_tcp rabbitmq.
start_rabbitmq() {
  local port=$1 d=$STATE/rabbitmq epmd_port dist_port
  claim_port "$port"
  epmd_port=$(free_port)
  dist_port=$(free_port)
  mkdir -p "$d/mnesia" "$d/log"
  echo '[].' >"$d/enabled_plugins"
  printf 'listeners.tcp.1 = 127.0.0.1:%s\n' "$port" >"$d/rabbitmq.conf"
  DAEMON_LOGS[epmd]="$d/epmd.log"
  spawn epmd "$d/epmd.log" epmd -port "$epmd_port" -address 127.0.0.1
  DAEMON_LOGS[rabbitmq]="$d/rabbitmq.log $d/log/cephboot-$port@localhost.log"
  # The binary behind Debian's wrapper (which would drop to the rabbitmq user and log to
  # /var/log): as root, HOME holds the Erlang cookie.
  spawn rabbitmq "$d/rabbitmq.log" env HOME="$d" ERL_EPMD_PORT="$epmd_port" \
    ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_NODENAME="cephboot-$port@localhost" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port" \
    RABBITMQ_DIST_PORT="$dist_port" RABBITMQ_MNESIA_BASE="$d/mnesia" \
    RABBITMQ_LOG_BASE="$d/log" RABBITMQ_CONFIG_FILE="$d/rabbitmq" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    /usr/lib/rabbitmq/bin/rabbitmq-server
}

# wait_tcp NAME SECONDS PORT: until 127.0.0.1:PORT accepts connections; fail (with the
# tails of DAEMON_LOGS[NAME]) after SECONDS or when NAME's process died.
wait_tcp() {
  local name=$1 secs=$2 port=$3 pid deadline logs
  read -r -a logs <<<"${DAEMON_LOGS[$name]:-}"
  pid=$(cat "$STATE/$name.pid")
  deadline=$((SECONDS + secs))
  until port_listening "$port"; do
    group_alive "$pid" || fail "$name exited before listening on $port" "${logs[@]}"
    [ $SECONDS -ge $deadline ] &&
      fail "$name did not listen on 127.0.0.1:$port within ${secs}s" "${logs[@]}"
    sleep 0.2
  done
}

# etc_ceph NAME FILE...: a service's /etc/ceph as kolla-ansible makes it inside the service's
# container (it copies the ceph.* files of the service's config dir there): the FILEs copied
# into $STATE/etc-ceph/NAME. spawn_in_etc_ceph then runs the service with that directory
# mounted over /etc/ceph in a mount namespace of its own, so it finds ceph.conf and
# ceph.client.USER.keyring where Ceph's clients (librados, os-brick) look by default.
etc_ceph() {
  local name=$1 f; shift
  [ -d /etc/ceph ] || fail "no /etc/ceph to mount over (it comes with the package ceph-common)"
  mkdir -p "$STATE/etc-ceph/$name"
  for f in "$@"; do
    [ -s "$f" ] || fail "no $f: run cephboot openstack export first"
    cp "$f" "$STATE/etc-ceph/$name/"
  done
}

# spawn_in_etc_ceph NAME LOG CMD...: spawn, with $STATE/etc-ceph/NAME as /etc/ceph.
spawn_in_etc_ceph() {
  local name=$1 log=$2; shift 2
  spawn "$name" "$log" unshare --mount --propagation private -- \
    sh -c 'mount --bind "$0" /etc/ceph && exec "$@"' "$STATE/etc-ceph/$name" "$@"
}
