#!/bin/sh
# Lab stand-in for systemd's etcd.service: start | stop | restart | status.
# Written into each lab host's bin/ by `etcdops lab up`; HOST_ROOT is filled in.
# stop returns only once the process is gone (or fails after ETCD_STOP_TIMEOUT s).
set -u
ROOT='@HOST_ROOT@'
PIDFILE="$ROOT/run/etcd.pid"
LOG="$ROOT/var/log/etcd.log"
ENVFILE="$ROOT/etc/etcd/etcd.env"
STOP_TIMEOUT=${ETCD_STOP_TIMEOUT:-30}

running() {
    [ -f "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null)
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    # a zombie has exited; a reused pid is not ours
    state=$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
    [ "$state" != Z ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "^$ROOT/bin/etcd "
}

start() {
    if running; then echo "etcd already running (pid $pid)"; return 0; fi
    [ -r "$ENVFILE" ] || { echo "etcd-service: cannot read $ENVFILE" >&2; return 1; }
    mkdir -p "$ROOT/run" "$ROOT/var/log"
    (set -a; . "$ENVFILE"; set +a; exec setsid "$ROOT/bin/etcd" ) </dev/null >>"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    i=0
    while [ $i -lt 10 ]; do
        sleep 0.1
        i=$((i + 1))
        if ! running; then
            echo "etcd-service: etcd exited at start; last log lines:" >&2
            tail -n 5 "$LOG" >&2
            return 1
        fi
    done
    echo "etcd started (pid $(cat "$PIDFILE"))"
}

stop() {
    if ! running; then rm -f "$PIDFILE"; echo "etcd not running"; return 0; fi
    kill -TERM "$pid" 2>/dev/null
    i=0
    while running; do
        i=$((i + 1))
        if [ $i -ge $((STOP_TIMEOUT * 10)) ]; then
            echo "etcd-service: etcd (pid $pid) did not exit within ${STOP_TIMEOUT}s" >&2
            return 1
        fi
        sleep 0.1
    done
    rm -f "$PIDFILE"
    echo "etcd stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) stop && start ;;
    status) if running; then echo "active (pid $pid)"; else echo inactive; exit 3; fi ;;
    *) echo "usage: etcd-service start|stop|restart|status" >&2; exit 2 ;;
esac
