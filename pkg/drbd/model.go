package drbd

// Model is the state of DRBD as told by `drbdsetup events2`: the objects
// that exist after applying every line read so far. Keys a line does not
// carry keep their earlier values, as drbdsetup prints only what changed.
type Model struct {
	Resources []*Resource
	// DumpComplete is set by `exists -`, the end of the initial dump (with
	// --now, the end of the output). A dump without it was cut short.
	DumpComplete bool
	// Helpers holds the last helper calls and responses (newest last).
	Helpers []HelperEvent
	// Malformed counts lines that were skipped; Skipped keeps the first few
	// for a log message.
	Malformed int
	Skipped   []string
}

// Resource is a DRBD resource and everything below it.
type Resource struct {
	Name string
	Role Role
	// Suspended is nil when I/O is not suspended; otherwise the reasons
	// (DRBD 9: user, no-data, fencing, quorum; 8.4 under utils 9: yes).
	Suspended       []string
	WriteOrdering   string // with --statistics: none, drain, flush, barrier
	ForceIOFailures Tristate
	// MayPromote and PromotionScore are drbdsetup's own view (utils >= 9.14,
	// DRBD 9 only); the agent's score is computed by Score, not taken from here.
	MayPromote        Tristate
	PromotionScore    int
	HasPromotionScore bool

	Connections []*Connection
	Devices     []*Device
	// Keys holds every key last reported for the resource, raw, including
	// ones this package does not know.
	Keys map[string]string
}

// Connection is the link to one peer. With an 8.4 kernel there is exactly
// one, reported as peer-node-id:0 conn-name:peer (conn-name is missing once
// the network configuration is gone, as in StandAlone).
type Connection struct {
	PeerNodeID int // -1 when not reported (old drbd-utils with 8.4)
	Name       string
	State      ConnState
	PeerRole   Role
	Congested  Tristate

	PeerDevices []*PeerDevice
	Paths       []*Path
	Keys        map[string]string
}

// Device is one local volume.
type Device struct {
	Volume     int
	Minor      int // -1 when not reported
	Disk       DiskState
	Client     Tristate // intentionally diskless (DRBD 9)
	Quorum     Tristate // DRBD 9; Unset with 8.4
	Open       Tristate
	BackingDev string // "none" when diskless
	Size       int64  // KiB, with --statistics
	Keys       map[string]string
}

// PeerDevice is one volume as seen through one connection.
type PeerDevice struct {
	Volume          int
	Replication     ReplState
	PeerDisk        DiskState
	PeerClient      Tristate
	ResyncSuspended []string // nil when "no"
	// Done is the resync progress in percent, valid when HasDone; drbdsetup
	// prints it only while resync details exist.
	Done      float64
	HasDone   bool
	OutOfSync int64 // KiB, with --statistics
	Keys      map[string]string
}

// Path is one network path of a connection (DRBD 9).
type Path struct {
	Local, Peer string // e.g. ipv4:10.0.0.1:7789
	Established Tristate
	Keys        map[string]string
}

// HelperEvent is a `call helper` or `response helper` line.
type HelperEvent struct {
	Verb       string // call or response
	Resource   string
	Helper     string // e.g. split-brain, before-resync-target, fence-peer
	PeerNodeID int    // -1 when not reported
	Volume     int    // -1 when not reported
	Status     int    // exit status, valid for responses when HasStatus
	HasStatus  bool
}

// Resource returns the named resource, or nil when it is not configured.
func (m *Model) Resource(name string) *Resource {
	for _, r := range m.Resources {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// HelperCalled tells whether a helper (e.g. "split-brain") was called for
// the resource in the lines read so far.
func (m *Model) HelperCalled(resource, helper string) bool {
	for _, h := range m.Helpers {
		if h.Verb == "call" && h.Resource == resource && h.Helper == helper {
			return true
		}
	}
	return false
}

// Device returns the local volume, or nil.
func (r *Resource) Device(volume int) *Device {
	for _, d := range r.Devices {
		if d.Volume == volume {
			return d
		}
	}
	return nil
}

// Connection returns the connection to the peer node id, or nil.
func (r *Resource) Connection(peerNodeID int) *Connection {
	for _, c := range r.Connections {
		if c.PeerNodeID == peerNodeID {
			return c
		}
	}
	return nil
}

// PeerDevice returns the connection's view of a volume, or nil.
func (c *Connection) PeerDevice(volume int) *PeerDevice {
	for _, pd := range c.PeerDevices {
		if pd.Volume == volume {
			return pd
		}
	}
	return nil
}
