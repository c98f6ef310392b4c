#!/bin/sh
# PID 1 of a User-Mode Linux lab guest (docs/uml.md). POSIX sh: /bin/sh is dash.
#
# The guest's root is the host's / through hostfs, mounted read-only. This script:
#   1. puts an overlay on top (host / read-only below, tmpfs above) and pivots into it, so the
#      guest can write /etc, /var, /run without ever touching a host file;
#   2. gives the guest its own /proc, /sys, /dev, /run, /tmp (hostfs would otherwise show the
#      host's, e.g. the host's /run pid files or, worse, the host's device nodes);
#   3. loads IPVS and netem from the UML module tree, sets hostname and address, starts sshd
#      and a user script when asked, prints a ready marker on the console;
#   4. stays as init: reaps orphans, halts cleanly on SIGINT (mconsole "cad"), SIGTERM, SIGUSR2.
#
# Settings come from the file named by HUML_CONF (a kernel command-line `name=value`, which
# the kernel hands to init as environment). That file is written by harness/lab/_uml.py.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() { echo "huml-init: $*"; }

if [ "$$" != 1 ]; then
    echo "huml-init: must run as PID 1 of a UML guest" >&2
    exit 1
fi
if [ -z "$HUML_CONF" ] || [ ! -r "$HUML_CONF" ]; then
    log "HUML_CONF unset or unreadable: '$HUML_CONF'"
fi

HUML_STAGE=/run              # any existing host directory: the tmpfs hides it (guest side only)

# --- 1. overlay root --------------------------------------------------------------------------
mount -t proc proc /proc
mount -t tmpfs -o mode=0755 tmpfs "$HUML_STAGE"
mkdir -p "$HUML_STAGE/upper" "$HUML_STAGE/work" "$HUML_STAGE/root"
insmod "/usr/lib/uml/modules/$(uname -r)/kernel/fs/overlayfs/overlay.ko" 2>/dev/null
if ! mount -t overlay overlay \
        -o "lowerdir=/,upperdir=$HUML_STAGE/upper,workdir=$HUML_STAGE/work" "$HUML_STAGE/root"; then
    log "FATAL: overlay mount failed"
    halt -ff
fi
mkdir -p "$HUML_STAGE/root/.oldroot"
cd "$HUML_STAGE/root" || halt -ff
# pivot_root rather than chroot: PID 1 itself moves, and the old root can be detached.
pivot_root . .oldroot
cd /
mount --move /.oldroot/proc /proc
umount -l /.oldroot 2>/dev/null      # the overlay keeps its own references to upper and lower

# --- 2. the guest's own pseudo file systems -----------------------------------------------------
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mount -t tmpfs -o mode=0755 tmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# A fresh /run: the host's pid files and sockets must not be seen (nor believed) by guest daemons.
# /tmp stays the host's, read-only below the overlay, so state directories under /tmp work.
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/lock /run/huml
# A private, empty home for the guest's root: the host's dotfiles (pyenv and the like) made every
# SSH command take 4 s in the guest, and the host's ~/.ssh has no business there.
mount -t tmpfs -o mode=0700 tmpfs /root
# Modules: the UML kernel's tree, where modprobe looks for it (/lib -> /usr/lib on Debian 12).
mkdir -p /lib/modules
mount --bind /usr/lib/uml/modules /lib/modules

# Defaults, then the host-written settings (shell assignments quoted by the harness).
HUML_HOSTNAME=uml
HUML_IFACE=vec0
HUML_ADDRESS=
HUML_PREFIX=24
HUML_GATEWAY=
HUML_FORWARD=0
HUML_MODULES="ip_vs ip_vs_rr ip_vs_wrr ip_vs_wlc ip_vs_sh sch_netem"
HUML_SSHD=0
HUML_SSH_DIR=
HUML_USER_SCRIPT=
[ -r "$HUML_CONF" ] && . "$HUML_CONF"

# --- 3. kernel features, identity, network, services -----------------------------------------
# ctrl-alt-del (mconsole "cad") must signal init (SIGINT) instead of rebooting at once.
echo 0 > /proc/sys/kernel/ctrl-alt-del
for m in $HUML_MODULES; do
    modprobe -q "$m" || log "module $m not loaded"
done

hostname "$HUML_HOSTNAME"
echo "$HUML_HOSTNAME" > /etc/hostname
{
    echo "127.0.0.1 localhost"
    [ -n "$HUML_ADDRESS" ] && echo "$HUML_ADDRESS $HUML_HOSTNAME"
} > /etc/hosts

ip link set lo up
if [ -n "$HUML_ADDRESS" ]; then
    ip addr add "$HUML_ADDRESS/$HUML_PREFIX" dev "$HUML_IFACE"
fi
ip link set "$HUML_IFACE" up
[ -n "$HUML_GATEWAY" ] && ip route add default via "$HUML_GATEWAY"
echo "$HUML_FORWARD" > /proc/sys/net/ipv4/ip_forward

if [ "$HUML_SSHD" = 1 ]; then
    # sshd builds each session's environment afresh: SetEnv hands on the no-AVX settings that
    # init got from the kernel command line (without them memcpy picks AVX code: docs/uml.md).
    # Key files are copied out of the host directory: sshd insists on root-owned 0600 keys,
    # and copies in the guest's tmpfs are that whatever the host files look like.
    mkdir -p /run/sshd /run/huml/ssh
    chmod 0755 /run/sshd
    cp "$HUML_SSH_DIR/host_key" /run/huml/ssh/host_key
    cp "$HUML_SSH_DIR/authorized_keys" /run/huml/ssh/authorized_keys
    chmod 0600 /run/huml/ssh/host_key /run/huml/ssh/authorized_keys
    /usr/sbin/sshd -f /dev/null -h /run/huml/ssh/host_key \
        -o ListenAddress="${HUML_ADDRESS:-0.0.0.0}" \
        -o AuthorizedKeysFile=/run/huml/ssh/authorized_keys \
        -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no \
        -o KbdInteractiveAuthentication=no -o UsePAM=no -o StrictModes=no \
        -o UseDNS=no -o PidFile=/run/sshd.pid \
        -o SetEnv="GLIBC_TUNABLES=$GLIBC_TUNABLES OPENSSL_ia32cap=$OPENSSL_ia32cap" \
        -o LogLevel=INFO -E /dev/console -o Subsystem="sftp internal-sftp" \
        || log "sshd failed to start"
fi

user_rc=-
if [ -n "$HUML_USER_SCRIPT" ]; then
    # Runs in the foreground: it must start its daemons detached (setsid) and return.
    sh "$HUML_USER_SCRIPT"
    user_rc=$?
    log "user script $HUML_USER_SCRIPT exited $user_rc"
fi

# The host's readiness check looks for this exact line in the console log.
log "HUML-READY host=$HUML_HOSTNAME address=$HUML_ADDRESS user_script=$user_rc"

# --- 4. stay as init -----------------------------------------------------------------------------
HUML_STOP=0
# True while a process other than init runs a program (kernel threads have no exe link).
# Builtins only, so the check does not count itself.
user_processes_left() {
    for d in /proc/[0-9]*; do
        [ "${d#/proc/}" = 1 ] && continue
        [ -e "$d/exe" ] && return 0
    done
    return 1
}
shutdown() {
    log "shutdown requested"
    kill -TERM -1 2>/dev/null        # from PID 1: every process but init itself
    i=0
    while [ "$i" -lt 30 ] && user_processes_left; do     # at most ~3 s for daemons to exit
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL -1 2>/dev/null
    sync
    log "HUML-HALT"
    halt -ff                            # reboot(2) at once: init has nothing left to stop
    echo o > /proc/sysrq-trigger        # fallback if halt is not usable
}
trap 'HUML_STOP=1' INT TERM USR2

while [ "$HUML_STOP" = 0 ]; do
    # `wait` in dash reaps every child, known or orphaned, and returns early on a trapped signal.
    sleep 10 &
    wait $!
done
shutdown
