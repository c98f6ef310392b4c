#!/bin/sh
# Service control inside a lab's UML director guest: guestctl HOST start|stop|kill|status [keepalived|all]
# (rendered by harness.lab for lab $lab; the harness runs it over SSH as the keepalived service's
# start/stop command, and the guest's boot script runs it to start keepalived).
# POSIX sh, no python: every fork in a UML guest is slow.
host=$${1:-}; action=$${2:-}; daemon=$${3:-all}
case "$$daemon" in keepalived|all) ;; *) echo "guestctl: $$host: no daemon '$$daemon' here (has: keepalived)" >&2; exit 2;; esac
if [ "$$(hostname)" != "$$host" ]; then
    echo "guestctl: for $$host run on host '$$(hostname)': refusing" >&2; exit 2
fi
conf="$state_dir/hosts/$$host/etc/keepalived.conf"
pidfile=/run/keepalived/keepalived.pid
# builtins only (read, test): this runs in polling loops
running() {
    pid=; comm=
    { read -r pid < "$$pidfile"; } 2>/dev/null && [ -n "$$pid" ] &&
        { read -r comm < "/proc/$$pid/comm"; } 2>/dev/null && [ "$$comm" = keepalived ]
}
case "$$action" in
start)
    if running; then echo "keepalived: already running"; exit 0; fi
    mkdir -p /run/keepalived
    rm -f /run/keepalived/vrrp.pid /run/keepalived/checkers.pid
    # VRRP and the checkers (no -P: the checkers keep the IPVS table); own session; output to
    # the console, which the host keeps in guests/$$host/console.log
    setsid /usr/sbin/keepalived -n -l -D -G -f "$$conf" -p "$$pidfile" -r /run/keepalived/vrrp.pid \
        -c /run/keepalived/checkers.pid </dev/null >/dev/console 2>&1 &
    i=0
    while [ "$$i" -lt 150 ]; do
        if running && [ -s /run/keepalived/vrrp.pid ] && [ -s /run/keepalived/checkers.pid ]; then
            echo "keepalived: started"; exit 0
        fi
        sleep 0.1; i=$$((i + 1))
    done
    echo "keepalived: not ready after 15 s (see guests/$$host/console.log)" >&2; exit 1;;
stop|kill)
    if ! running; then echo "keepalived: not running"; exit 0; fi
    sig=TERM; [ "$$action" = kill ] && sig=KILL
    kill -"$$sig" "$$pid"
    i=0
    while [ "$$i" -lt 100 ] && [ -e "/proc/$$pid" ]; do sleep 0.1; i=$$((i + 1)); done
    [ -e "/proc/$$pid" ] && kill -KILL "$$pid"
    echo "keepalived: stopped";;
status)
    if running; then echo "keepalived running $$pid"; else echo "keepalived stopped -"; exit 3; fi;;
*)
    echo "usage: guestctl HOST start|stop|kill|status [keepalived|all]" >&2; exit 2;;
esac
