#!/bin/sh
# Boot script of LVS director $host (run by the guest's init, in the foreground; rendered by harness.lab)
# A real server removed by a failed check takes its connections with it (as HAProxy's
# shutdown-sessions does): the next packet of such a connection is answered with a reset.
sysctl -qw net.ipv4.vs.expire_nodest_conn=1 net.ipv4.vs.expire_quiescent_template=1
$sync_sysctls
exec sh "$guestctl" "$host" start keepalived
