#!/bin/sh
# PID 1 of the throw-away guest: load the modules, put an overlay over the host's root
# (shared read-only over 9p), run /rig/cmd.sh as root, hand its exit code back, power off.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.list); do
  insmod "/lib/modules/$m.ko" 2>>/insmod.log || echo "insmod $m failed" >>/insmod.log
done
opts=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /host /rw /newroot /results
mount -t 9p -o "$opts,cache=loose,ro" hostroot /host || { echo "[rig] cannot mount the host root"; poweroff -f; }
mount -t 9p -o "$opts" results /results || { echo "[rig] cannot mount the results share"; poweroff -f; }
cp /insmod.log /results/insmod.log 2>/dev/null
mount -t tmpfs -o size=2g,mode=0755 upper /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
  || { echo "[rig] overlay mount failed"; poweroff -f; }
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm /newroot/rig
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs shm /newroot/dev/shm
mount -t tmpfs run /newroot/run
# Backing files for loop devices live on a real ext4 scratch disk (O_DIRECT works there), at
# its own path (cmd.sh points TMPDIR at it): the host's /tmp stays visible, a checkout may be there.
mkdir -p /newroot/scratch
mount -t ext4 /dev/vda /newroot/scratch || mount -t tmpfs scratch /newroot/scratch
chmod 1777 /newroot/scratch
mount --bind /results /newroot/rig
echo 1 > /proc/sys/kernel/printk 2>/dev/null
: > /results/started
chroot /newroot /bin/sh /rig/cmd.sh </dev/null
echo $? > /results/rc
umount /newroot/scratch 2>/dev/null
sync
poweroff -f
