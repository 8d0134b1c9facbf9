#!/bin/bash
# Builds the gocf test-bed image into $1 (a new directory):
#   rootfs/      Debian trixie minbase + packages.txt (sid: lines from sid, pinned low)
#   vmlinuz, initrd.img, base.qcow2 (ext4 of rootfs, whole disk, for vm mode)
# Run by `testbed image`, which chooses $1 from a hash of this directory's files.
# Needs root, debootstrap, qemu-utils, e2fsprogs. Writes logs to $1/build.log.
set -euo pipefail
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
MIRROR=${GTB_MIRROR:?the Debian archive to use (testbed passes the one apt uses)}
SUITE=trixie
IMG_SIZE=3G
R=$OUT/rootfs
t0=$(date +%s)
ts() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
umount_all() { for m in dev/pts dev sys proc; do mountpoint -q "$R/$m" && umount "$R/$m"; done; return 0; }
trap umount_all EXIT
mkdir -p "$OUT"
LOG=$OUT/build.log

main_pkgs=$(grep -v '^#' "$HERE/packages.txt" | grep -v '^sid:' | tr '\n' ' ')
sid_pkgs=$(grep '^sid:' "$HERE/packages.txt" | sed 's/^sid://' | tr '\n' ' ')

ts "debootstrap $SUITE minbase"
debootstrap --variant=minbase "$SUITE" "$R" "$MIRROR" >>"$LOG" 2>&1

rm -f "$R/etc/apt/sources.list"
cat > "$R/etc/apt/sources.list.d/debian.sources" <<EOS
Types: deb
URIs: $MIRROR
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $MIRROR
Suites: sid
Check-Valid-Until: no
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
printf 'Package: *\nPin: release n=sid\nPin-Priority: 100\n' > "$R/etc/apt/preferences.d/sid-low"
echo 'APT::Install-Recommends "0";' > "$R/etc/apt/apt.conf.d/99norecommends"
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod +x "$R/usr/sbin/policy-rc.d"

mount -t proc proc "$R/proc"; mount -t sysfs sys "$R/sys"
mount --bind /dev "$R/dev"; mount --bind /dev/pts "$R/dev/pts"
CH="chroot $R env DEBIAN_FRONTEND=noninteractive"
ts "apt-get update"
$CH apt-get update >>"$LOG" 2>&1
ts "apt-get install $main_pkgs"
# shellcheck disable=SC2086
$CH apt-get install -y $main_pkgs >>"$LOG" 2>&1
ts "apt-get install -t sid $sid_pkgs"
# asterisk is only in sid; its modules need sid's libc, so let -t sid pull the dependencies
# shellcheck disable=SC2086
$CH apt-get install -y -t sid $sid_pkgs >>"$LOG" 2>&1

ts "configure"
echo node > "$R/etc/hostname"
printf '127.0.0.1 localhost\n198.51.100.11 n1\n198.51.100.12 n2\n198.51.100.13 n3\n' > "$R/etc/hosts"
echo '/dev/vda / ext4 defaults,noatime 0 1' > "$R/etc/fstab"
: > "$R/etc/machine-id"; rm -f "$R/var/lib/dbus/machine-id"
passwd -R "$R" -d root >/dev/null
# the cluster (and the tests) start these themselves
# (sbd: vm mode configures and enables it at cluster start; ns nodes have no watchdog)
for s in asterisk corosync pacemaker drbd corosync-qdevice corosync-qnetd sbd; do
  chroot "$R" systemctl disable "$s" >/dev/null 2>&1 || true
done
chroot "$R" systemctl mask asterisk.service >/dev/null 2>&1 || true
# faster boots under TCG: a small initramfs (root is ext4 on virtio-blk; virtio_pci is built in),
# no timers or helpers the test bed does not need, no KVM modules inside the guest
sed -i 's/^MODULES=.*/MODULES=list/' "$R/etc/initramfs-tools/initramfs.conf"
printf 'virtio_blk\nvirtio_net\next4\n' >> "$R/etc/initramfs-tools/modules"
$CH update-initramfs -u -k all >>"$LOG" 2>&1
chroot "$R" systemctl mask modprobe@drm.service e2scrub_reap.service e2scrub_all.timer apt-daily.timer \
  apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer systemd-tmpfiles-clean.timer >>"$LOG" 2>&1
# q35's iTCO watchdog never resets the VM under qemu here: sbd in vm mode uses softdog
printf 'blacklist kvm_amd\nblacklist kvm_intel\nblacklist pcspkr\nblacklist iTCO_wdt\nblacklist iTCO_vendor_support\n' > "$R/etc/modprobe.d/gtb.conf"
install -m 755 "$HERE/gtb-agent" "$R/usr/local/sbin/gtb-agent"
install -m 644 "$HERE/gtb-agent.service" "$R/etc/systemd/system/gtb-agent.service"
chroot "$R" systemctl enable gtb-agent.service >/dev/null 2>&1
$CH apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/locale/*
rm -f "$R/usr/sbin/policy-rc.d"
touch "$R/etc/.updated" "$R/var/.updated"
umount_all
# DRBD 8.4 is the in-tree module of Debian's kernel (drivers/block/drbd)
ls "$R"/lib/modules/*/kernel/drivers/block/drbd/drbd.ko* >/dev/null

ts "kernel, initrd, qcow2"
cp "$(ls "$R"/boot/vmlinuz-* | tail -1)" "$OUT/vmlinuz"
cp "$(ls "$R"/boot/initrd.img-* | tail -1)" "$OUT/initrd.img"
mke2fs -q -t ext4 -L root -d "$R" "$OUT/base.raw" "$IMG_SIZE" >>"$LOG" 2>&1
qemu-img convert -O qcow2 "$OUT/base.raw" "$OUT/base.qcow2"
rm -f "$OUT/base.raw"
ts "done"
