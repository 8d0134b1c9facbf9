#!/bin/bash
# Init (PID 1) of a ns-mode node inside the image rootfs: seeds the CIB, starts corosync and
# pacemakerd; SIGTERM stops pacemaker, then corosync (clean shutdown), each wait bounded.
N=$1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8
. /etc/gtb/node.env
log() { echo "$(date +%T.%N) $N: $*" >> /var/log/gtb-init.log; }
mkdir -p /run/crm /run/resource-agents /run/lock /run/asterisk /run/corosync-qdevice /var/log/corosync /var/log/pacemaker /var/lib/corosync
chown hacluster:haclient /run/crm; chmod 750 /run/crm; chmod 1755 /run/resource-agents
chown asterisk:asterisk /run/asterisk
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker
[ -d /etc/asterisk ] && chown -R asterisk:asterisk /etc/asterisk
[ -d /usr/lib/ocf/resource.d/gocf ] && chmod -R a+rX /usr/lib/ocf/resource.d/gocf
C=/var/lib/pacemaker/cib/cib.xml
if [ ! -f $C ]; then
  cibadmin --empty > $C
  CIB_file=$C crm_attribute -t crm_config -n stonith-enabled -v false
  CIB_file=$C crm_attribute -t crm_config -n dc-deadtime -v "${DC_DEADTIME:-2s}"
  chown hacluster:haclient $C; chmod 600 $C
fi
stop_all() {
  log "clean shutdown"
  kill -TERM "$PCMK" 2>/dev/null
  for _ in $(seq 240); do kill -0 "$PCMK" 2>/dev/null || break; sleep 0.5; done
  if [ -n "$QD" ]; then
    kill -TERM "$QD" 2>/dev/null
    for _ in $(seq 20); do kill -0 "$QD" 2>/dev/null || break; sleep 0.5; done
  fi
  kill -TERM "$CS" 2>/dev/null
  for _ in $(seq 60); do kill -0 "$CS" 2>/dev/null || break; sleep 0.5; done
  log "stopped"
  exit 0
}
trap stop_all TERM INT
corosync -f > /var/log/corosync/stdout.log 2>&1 &
CS=$!
for _ in $(seq 100); do corosync-cmapctl -g totem.cluster_name >/dev/null 2>&1 && break; sleep 0.1; done
log "corosync pid $CS"
QD=
if grep -q 'model: *net' /etc/corosync/corosync.conf; then
  corosync-qdevice -f > /var/log/corosync/qdevice.log 2>&1 &
  QD=$!
  log "corosync-qdevice pid $QD"
fi
PCMK_logfile=/var/log/pacemaker/pacemaker.log pacemakerd > /var/log/pacemaker/stdout.log 2>&1 &
PCMK=$!
log "pacemakerd pid $PCMK"
: > /run/gtb-started
while :; do sleep 3600 & wait $!; done
