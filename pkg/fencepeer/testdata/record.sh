#!/bin/bash
# Re-records the CIBs of this directory with the host's real Pacemaker tools
# (cibadmin, crm_simulate; pacemaker-cli-utils, no running cluster needed):
# an empty CIB from `cibadmin --empty <schema>`, the configuration added with
# `cibadmin --create` on CIB_file, node states from `crm_simulate` bringing
# nodes up, failing (and fencing) them, and the result saved by
# `cibadmin -Q` on the file, as the handler would see it from a cluster.
# Usage: testdata/record.sh [outdir]   (default: this directory)
# testdata/record-pcmk3.sh runs it with Pacemaker 3.0 (test bed image) into
# testdata/pcmk3, where crm_simulate upgrades the CIBs to pacemaker-4.0.
set -euo pipefail
out=${1:-$(cd "$(dirname "$0")" && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# cib NAME SCHEMA: an empty CIB with two (or more) nodes and the cluster options.
cib() {
	export CIB_file=$tmp/$1.xml
	cibadmin --empty "$2" > "$CIB_file"
	shift 2
	local id=1 n
	for n in "$@"; do
		cibadmin --create -o nodes -X "<node id=\"$id\" uname=\"$n\"/>"
		id=$((id + 1))
	done
	cibadmin --create -o crm_config -X '<cluster_property_set id="cib-bootstrap-options">
  <nvpair id="opt-stonith-enabled" name="stonith-enabled" value="true"/>
  <nvpair id="opt-no-quorum-policy" name="no-quorum-policy" value="stop"/>
</cluster_property_set>'
	cibadmin --create -o resources -X '<primitive id="fence-all" class="stonith" type="fence_dummy"/>'
}

# clone ELEMENT ID PROVIDER DRBD_RESOURCE: a promotable clone of the drbd agent.
clone() {
	local el=$1 id=$2 prov=$3 res=$4 meta=""
	[[ $el = clone ]] && meta="<meta_attributes id=\"$id-meta\"><nvpair id=\"$id-promotable\" name=\"promotable\" value=\"true\"/><nvpair id=\"$id-notify\" name=\"notify\" value=\"true\"/></meta_attributes>"
	cibadmin --create -o resources -X "<$el id=\"$id\">
  <primitive id=\"p-$id\" class=\"ocf\" provider=\"$prov\" type=\"drbd\">
    <instance_attributes id=\"p-$id-params\">
      <nvpair id=\"p-$id-drbd_resource\" name=\"drbd_resource\" value=\"$res\"/>
    </instance_attributes>
  </primitive>
  $meta
</$el>"
}

# up NODES...: the nodes join (controller online, member of the membership).
up() {
	local args=() n
	for n in "$@"; do args+=(-u "$n"); done
	crm_simulate -x "$CIB_file" -q 1 "${args[@]}" -O "$CIB_file.new" >/dev/null
	mv "$CIB_file.new" "$CIB_file"
}

# fail NODE: the node is lost; crm_simulate -S runs the transition, fencing it.
fail() {
	crm_simulate -x "$CIB_file" -q 1 -f "$1" -S -O "$CIB_file.new" >/dev/null
	mv "$CIB_file.new" "$CIB_file"
}

# status_up NODES...: node states written with cibadmin, which (unlike
# crm_simulate) leaves validate-with as it is.
status_up() {
	local id=1 n
	cibadmin --modify -X '<cib have-quorum="1"/>'
	for n in "$@"; do
		cibadmin --create -o status -X "<node_state id=\"$id\" uname=\"$n\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/>"
		id=$((id + 1))
	done
}

save() { cibadmin -Q > "$out/$1"; unset CIB_file; }

# Pacemaker 2.1 schema, gocf agent, promotable clone, both nodes up.
cib gocf-clone pacemaker-3.9 node1 node2
clone clone drbd-r0-clone gocf r0
up node1 node2
save cib-gocf-clone.xml

# The same with ocf:linbit:drbd, drbd_resource in the second of two
# instance_attributes sets (the first one conditional on a rule), and a
# second clone for another DRBD resource before it.
cib linbit-clone pacemaker-3.9 node1 node2
clone clone ms-other linbit r9
cibadmin --create -o resources -X '<clone id="ms-r0">
  <primitive id="p-drbd-r0" class="ocf" provider="linbit" type="drbd">
    <instance_attributes id="p-drbd-r0-node1" score="2">
      <rule id="p-drbd-r0-node1-rule" score="INFINITY">
        <expression id="p-drbd-r0-node1-expr" attribute="#uname" operation="eq" value="node1"/>
      </rule>
      <nvpair id="p-drbd-r0-node1-cnt" name="drbdconf" value="/etc/drbd.conf"/>
    </instance_attributes>
    <instance_attributes id="p-drbd-r0-params" score="1">
      <nvpair id="p-drbd-r0-drbd_resource" name="drbd_resource" value="r0"/>
    </instance_attributes>
  </primitive>
  <meta_attributes id="ms-r0-meta">
    <nvpair id="ms-r0-promotable" name="promotable" value="true"/>
  </meta_attributes>
</clone>'
up node1 node2
save cib-linbit-clone.xml

# Pacemaker 1.1-era schema with a <master> resource (ocf:linbit:drbd).
cib linbit-master pacemaker-2.10 node1 node2
clone master ms_drbd_r0 linbit r0
status_up node1 node2
save cib-linbit-master.xml

# No clone for r0: only a plain (not promotable) clone of r1.
cib no-clone pacemaker-3.9 node1 node2
cibadmin --create -o resources -X '<clone id="drbd-r1-clone">
  <primitive id="p-drbd-r1" class="ocf" provider="gocf" type="drbd">
    <instance_attributes id="p-drbd-r1-params">
      <nvpair id="p-drbd-r1-drbd_resource" name="drbd_resource" value="r1"/>
    </instance_attributes>
  </primitive>
</clone>'
up node1 node2
save cib-no-clone.xml

# node2 failed and was fenced by the cluster (expected down).
cib peer-fenced pacemaker-3.9 node1 node2
clone clone drbd-r0-clone gocf r0
up node1 node2
fail node2
save cib-peer-fenced.xml

# node2 lost but not (yet) fenced: -f without running the transition.
cib peer-unclean pacemaker-3.9 node1 node2
clone clone drbd-r0-clone gocf r0
up node1 node2
crm_simulate -x "$CIB_file" -q 1 -f node2 -O "$CIB_file.new" >/dev/null
mv "$CIB_file.new" "$CIB_file"
save cib-peer-unclean.xml

# Three nodes for DRBD 9 (node ids 0, 1, 2 in drbd.conf), all up; the DRBD
# resource is drbd1, as in pkg/drbd's 3-node events2 sample.
cib gocf-three pacemaker-3.9 node1 node2 node3
clone clone drbd1-clone gocf drbd1
up node1 node2 node3
save cib-three.xml
