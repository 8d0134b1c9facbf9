#!/bin/bash
# Init (PID 1) of a ns-mode node inside the image rootfs: seeds the CIB (fencing on, with the
# bed's power switch as device fence-bed), starts corosync and pacemakerd; SIGTERM stops
# pacemaker, then corosync (clean shutdown), each wait bounded.
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
FIRST=
if [ ! -f $C ]; then
  FIRST=1
  cibadmin --empty > $C
  CIB_file=$C crm_attribute -t crm_config -n stonith-enabled -v true
  CIB_file=$C crm_attribute -t crm_config -n dc-deadtime -v "${DC_DEADTIME:-2s}"
  if [ -n "${FENCE_DEVICE:-}" ]; then
    D=$FENCE_DEVICE
    CIB_file=$C cibadmin -C -o resources -X "<primitive id=\"$D\" class=\"stonith\" type=\"fence_testbed\">
  <instance_attributes id=\"$D-ia\"><nvpair id=\"$D-hosts\" name=\"pcmk_host_list\" value=\"$FENCE_HOSTS\"/></instance_attributes>
  <operations><op id=\"$D-monitor\" name=\"monitor\" interval=\"60s\" timeout=\"20s\"/></operations></primitive>"
  fi
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
: > /run/gtb-started
if [ -n "$FIRST" ]; then
  # first start of the bed: wait (bounded) until every node is in the membership, so that no
  # node is fenced for not being seen yet (the nodes start one after the other)
  want=$(grep -c ring0_addr /etc/corosync/corosync.conf)
  for _ in $(seq 300); do
    [ "$(corosync-cmapctl runtime.members 2>/dev/null | grep -c 'status (str) = joined')" -ge "$want" ] && break
    sleep 0.1
  done
  log "members: $(corosync-cmapctl runtime.members 2>/dev/null | grep -c 'status (str) = joined') of $want"
fi
QD=
if grep -q 'model: *net' /etc/corosync/corosync.conf; then
  corosync-qdevice -f > /var/log/corosync/qdevice.log 2>&1 &
  QD=$!
  log "corosync-qdevice pid $QD"
fi
PCMK_logfile=/var/log/pacemaker/pacemaker.log pacemakerd > /var/log/pacemaker/stdout.log 2>&1 &
PCMK=$!
log "pacemakerd pid $PCMK"
while :; do sleep 3600 & wait $!; done
