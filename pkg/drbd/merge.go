package drbd

import "strconv"

// The merge functions copy the keys a line carries onto an object and leave
// all others alone. Every key lands in Keys, so keys added by newer
// drbd-utils stay visible; a value that does not parse leaves the typed
// field as it was rather than rejecting the line.

func mergeResource(r *Resource, rec *record) {
	for _, e := range rec.keys {
		r.Keys[e.k] = e.v
		switch e.k {
		case "role":
			r.Role = Role(e.v)
		case "suspended":
			r.Suspended = list(e.v)
		case "write-ordering":
			r.WriteOrdering = e.v
		case "force-io-failures":
			r.ForceIOFailures = parseTristate(e.v)
		case "may_promote":
			r.MayPromote = parseTristate(e.v)
		case "promotion_score":
			if n, err := strconv.Atoi(e.v); err == nil {
				r.PromotionScore, r.HasPromotionScore = n, true
			}
		}
	}
}

func mergeConnection(c *Connection, rec *record) {
	for _, e := range rec.keys {
		c.Keys[e.k] = e.v
		switch e.k {
		case "conn-name":
			c.Name = e.v
		case "connection":
			c.State = ConnState(e.v)
		case "role":
			c.PeerRole = Role(e.v)
		case "congested":
			c.Congested = parseTristate(e.v)
		}
	}
}

func mergeDevice(d *Device, rec *record) {
	for _, e := range rec.keys {
		d.Keys[e.k] = e.v
		switch e.k {
		case "minor":
			if n, err := strconv.Atoi(e.v); err == nil {
				d.Minor = n
			}
		case "disk":
			d.Disk = DiskState(e.v)
		case "client":
			d.Client = parseTristate(e.v)
		case "quorum":
			d.Quorum = parseTristate(e.v)
		case "open":
			d.Open = parseTristate(e.v)
		case "backing_dev":
			d.BackingDev = e.v
		case "size":
			if n, err := strconv.ParseInt(e.v, 10, 64); err == nil {
				d.Size = n
			}
		}
	}
}

func mergePeerDevice(pd *PeerDevice, rec *record) {
	_, replChanged := rec.get("replication")
	_, hasDone := rec.get("done")
	if replChanged && !hasDone {
		// done: is printed only while resync or verify details exist; the
		// line that ends them does not say so, so progress is dropped here.
		defer func() {
			if r := pd.Replication; !r.Resyncing() && r != VerifyS && r != VerifyT {
				pd.HasDone = false
			}
		}()
	}
	for _, e := range rec.keys {
		pd.Keys[e.k] = e.v
		switch e.k {
		case "replication":
			pd.Replication = ReplState(e.v)
		case "peer-disk":
			pd.PeerDisk = DiskState(e.v)
		case "peer-client":
			pd.PeerClient = parseTristate(e.v)
		case "resync-suspended":
			pd.ResyncSuspended = list(e.v)
		case "done":
			if f, err := strconv.ParseFloat(e.v, 64); err == nil {
				pd.Done, pd.HasDone = f, true
			}
		case "out-of-sync":
			if n, err := strconv.ParseInt(e.v, 10, 64); err == nil {
				pd.OutOfSync = n
			}
		}
	}
}

func mergePath(p *Path, rec *record) {
	for _, e := range rec.keys {
		p.Keys[e.k] = e.v
		if e.k == "established" {
			p.Established = parseTristate(e.v)
		}
	}
}
