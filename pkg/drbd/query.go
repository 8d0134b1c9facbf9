package drbd

import (
	"fmt"
	"slices"
	"strings"
)

// Connected tells whether the connection is up. Besides Connected this
// accepts the replication states an 8.4 kernel may print as its connection
// state under drbd-utils 9 (SyncSource and the like are 8.4 cstates).
func (c *Connection) Connected() bool {
	return c.State == Connected || replicating[string(c.State)]
}

// Connecting tells whether the connection waits for its peer.
func (c *Connection) Connecting() bool {
	return c.State == Connecting || c.State == WFConnection
}

// PeerRole is the role that matters for promotion: Primary when any peer
// is Primary, else Secondary when any peer is known, else Unknown.
func (r *Resource) PeerRole() Role {
	role := RoleUnknown
	for _, c := range r.Connections {
		switch c.PeerRole {
		case Primary:
			return Primary
		case Secondary:
			role = Secondary
		}
	}
	return role
}

// AllLocalDisksUpToDate tells whether there is at least one volume and
// every local disk is UpToDate.
func (r *Resource) AllLocalDisksUpToDate() bool {
	return r.allLocal(func(d DiskState) bool { return d == UpToDate })
}

// AllLocalDisksConsistent tells whether every local disk holds consistent
// data (Consistent or UpToDate): usable, but maybe not the latest.
func (r *Resource) AllLocalDisksConsistent() bool {
	return r.allLocal(func(d DiskState) bool { return d == UpToDate || d == Consistent })
}

func (r *Resource) allLocal(ok func(DiskState) bool) bool {
	if len(r.Devices) == 0 {
		return false
	}
	for _, d := range r.Devices {
		if !ok(d.Disk) {
			return false
		}
	}
	return true
}

// LocalDiskTransient tells whether some local disk is attaching or
// negotiating, a state that lasts moments and says nothing yet.
func (r *Resource) LocalDiskTransient() bool {
	for _, d := range r.Devices {
		if d.Disk.Transient() {
			return true
		}
	}
	return false
}

// SomePeerUpToDate tells whether one connected peer has every volume of
// the resource UpToDate: I/O could be served from that peer alone.
func (r *Resource) SomePeerUpToDate() bool {
	if len(r.Devices) == 0 {
		return false
	}
	for _, c := range r.Connections {
		if c.Connected() && c.allPeerDisks(r.Devices, func(d DiskState) bool { return d == UpToDate }) {
			return true
		}
	}
	return false
}

// PeerDisksKnown tells whether every peer's disk state is known for every
// volume (no DUnknown): only then does the local node know its data is the
// newest. A resource without connections has no peer to doubt.
func (r *Resource) PeerDisksKnown() bool {
	for _, c := range r.Connections {
		if !c.allPeerDisks(r.Devices, func(d DiskState) bool { return d != "" && d != DUnknown }) {
			return false
		}
	}
	return true
}

func (c *Connection) allPeerDisks(devs []*Device, ok func(DiskState) bool) bool {
	for _, d := range devs {
		pd := c.PeerDevice(d.Volume)
		if pd == nil || !ok(pd.PeerDisk) {
			return false
		}
	}
	return true
}

// QuorumLost tells whether DRBD 9 reports lost quorum on a volume or
// suspended I/O for lack of quorum. 8.4 has no quorum: never lost there.
func (r *Resource) QuorumLost() bool {
	if slices.Contains(r.Suspended, "quorum") {
		return true
	}
	for _, d := range r.Devices {
		if d.Quorum == No {
			return true
		}
	}
	return false
}

// IOSuspended tells whether I/O on the resource is frozen.
func (r *Resource) IOSuspended() bool { return len(r.Suspended) > 0 }

// StandAlone lists the connections that gave up: no connection attempts
// are made. After a connect this is how DRBD reports a split brain it could
// not resolve automatically; an admin's `drbdadm disconnect` looks the same.
func (r *Resource) StandAlone() []*Connection {
	var out []*Connection
	for _, c := range r.Connections {
		if c.State == StandAlone {
			out = append(out, c)
		}
	}
	return out
}

// Resyncing lists the peer devices with a resync running or pending.
func (r *Resource) Resyncing() []*PeerDevice {
	var out []*PeerDevice
	for _, c := range r.Connections {
		for _, pd := range c.PeerDevices {
			if pd.Replication.Resyncing() {
				out = append(out, pd)
			}
		}
	}
	return out
}

// DiskSummary describes the local disks for messages: "UpToDate" when all
// volumes agree, else "0:UpToDate 1:Inconsistent".
func (r *Resource) DiskSummary() string {
	if len(r.Devices) == 0 {
		return "no volumes"
	}
	same := true
	for _, d := range r.Devices {
		same = same && d.Disk == r.Devices[0].Disk
	}
	if same {
		return string(r.Devices[0].Disk)
	}
	parts := make([]string, len(r.Devices))
	for i, d := range r.Devices {
		parts[i] = fmt.Sprintf("%d:%s", d.Volume, d.Disk)
	}
	return strings.Join(parts, " ")
}

// Peer names a connection for messages: its conn-name, else its node id.
func (c *Connection) Peer() string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("peer-node-id %d", c.PeerNodeID)
}
