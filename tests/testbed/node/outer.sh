#!/bin/bash
# PID 1 of a ns-mode node before it enters its rootfs. Runs with the host's root, already in the
# node's network namespace and in new mount/UTS/IPC/PID namespaces (see ns.go).
# usage: outer.sh NODE LOWER UPPER WORK MERGED [LOOPDEV...]
set -e
N=$1 LOWER=$2 UPPER=$3 WORK=$4 M=$5; shift 5
mount --make-rprivate /
mount -t overlay "gtb-$N" -o "lowerdir=$LOWER,upperdir=$UPPER,workdir=$WORK" "$M"
mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs "$M/sys"
mount -t tmpfs -o mode=755,nosuid,size=64m "gtbdev-$N" "$M/dev"
mknod -m 666 "$M/dev/null" c 1 3; mknod -m 666 "$M/dev/zero" c 1 5; mknod -m 666 "$M/dev/full" c 1 7
mknod -m 666 "$M/dev/random" c 1 8; mknod -m 666 "$M/dev/urandom" c 1 9; mknod -m 666 "$M/dev/tty" c 5 0
for d in "$@"; do  # shared block devices (loop) for the Filesystem agent
  read -r maj min < <(stat -L -c '%t %T' "$d")
  mknod -m 660 "$M$d" b $((16#$maj)) $((16#$min))
done
mkdir -p "$M/dev/pts" "$M/dev/shm" "$M/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev "gtbshm-$N" "$M/dev/shm"
mount -t mqueue mqueue "$M/dev/mqueue"
ln -s /proc/self/fd "$M/dev/fd"; ln -s /proc/self/fd/0 "$M/dev/stdin"
ln -s /proc/self/fd/1 "$M/dev/stdout"; ln -s /proc/self/fd/2 "$M/dev/stderr"
mount -t tmpfs -o mode=755,nosuid,nodev "gtbrun-$N" "$M/run"
mount -t tmpfs -o mode=1777,nosuid,nodev "gtbtmp-$N" "$M/tmp"
if [ -n "${GTB_FENCE_DIR:-}" ]; then  # the bed's power switch (fence_testbed's socket)
  mkdir -p "$M/run/gtb-fence"; mount --bind "$GTB_FENCE_DIR" "$M/run/gtb-fence"
fi
unset GTB_FENCE_DIR
hostname "$N"
cd "$M"; mkdir -p .oldroot; pivot_root . .oldroot; cd /
umount -l /.oldroot; rmdir /.oldroot
exec /bin/bash /usr/local/sbin/gtb-init "$N"
