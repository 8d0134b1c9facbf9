package drbd

import (
	"slices"
	"strconv"
)

// apply merges one record into the model and tells whether it could. Every
// verb but destroy merges: `change` carries only changed keys, and an
// object may be reported before its parent (out-of-order netlink events),
// so missing parents are created rather than the line dropped.
func (p *Parser) apply(rec *record) bool {
	switch rec.verb {
	case "call", "response":
		return rec.object == "helper" && p.helper(rec)
	case "rename":
		return rec.object == "resource" && p.rename(rec)
	}
	id, ok := identify(rec)
	if !ok {
		return false
	}
	m := p.Model
	if rec.verb == "destroy" {
		m.destroy(id)
		return true
	}
	r := m.resource(id.name)
	switch rec.object {
	case "resource":
		mergeResource(r, rec)
	case "device":
		mergeDevice(r.device(id.volume), rec)
	case "connection":
		mergeConnection(r.connection(id), rec)
	case "peer-device":
		mergePeerDevice(r.connection(id).peerDevice(id.volume), rec)
	case "path":
		mergePath(r.connection(id).path(id.local, id.peer), rec)
	}
	return true
}

// ident holds the keys that name an object; which ones matter depends on
// the object.
type ident struct {
	object      string
	name        string
	peerNodeID  int
	hasID       bool
	connName    string
	volume      int
	local, peer string
}

// identify reads and checks the identifying keys of rec's object, before
// anything is created, so a bad line leaves no trace in the model.
func identify(rec *record) (ident, bool) {
	id := ident{object: rec.object}
	var ok bool
	if id.name, ok = rec.get("name"); !ok || id.name == "" {
		return id, false
	}
	switch rec.object {
	case "resource":
		return id, true
	case "device":
		id.volume, ok = rec.getInt("volume")
		return id, ok
	case "connection", "peer-device", "path":
	default:
		return id, false
	}
	id.peerNodeID, id.hasID = rec.getInt("peer-node-id")
	if _, present := rec.get("peer-node-id"); present && !id.hasID {
		return id, false
	}
	id.connName, _ = rec.get("conn-name")
	if !id.hasID && id.connName == "" {
		return id, false
	}
	switch rec.object {
	case "peer-device":
		id.volume, ok = rec.getInt("volume")
		return id, ok
	case "path":
		id.local, _ = rec.get("local")
		id.peer, _ = rec.get("peer")
		return id, id.local != "" && id.peer != ""
	}
	return id, true
}

// destroy removes an object and what hangs below it; destroying something
// already gone (or never seen) is not an error.
func (m *Model) destroy(id ident) {
	if id.object == "resource" {
		m.Resources = slices.DeleteFunc(m.Resources, func(r *Resource) bool { return r.Name == id.name })
		return
	}
	r := m.Resource(id.name)
	if r == nil {
		return
	}
	if id.object == "device" {
		r.Devices = slices.DeleteFunc(r.Devices, func(d *Device) bool { return d.Volume == id.volume })
		return
	}
	c := r.findConnection(id)
	if c == nil {
		return
	}
	switch id.object {
	case "connection":
		r.Connections = slices.DeleteFunc(r.Connections, func(x *Connection) bool { return x == c })
	case "peer-device":
		c.PeerDevices = slices.DeleteFunc(c.PeerDevices, func(x *PeerDevice) bool { return x.Volume == id.volume })
	case "path":
		c.Paths = slices.DeleteFunc(c.Paths, func(x *Path) bool { return x.Local == id.local && x.Peer == id.peer })
	}
}

func (p *Parser) helper(rec *record) bool {
	name, ok := rec.get("name")
	h := HelperEvent{Verb: rec.verb, Resource: name, PeerNodeID: -1, Volume: -1}
	h.Helper, _ = rec.get("helper")
	if !ok || h.Helper == "" {
		return false
	}
	if n, ok := rec.getInt("peer-node-id"); ok {
		h.PeerNodeID = n
	}
	if n, ok := rec.getInt("volume"); ok {
		h.Volume = n
	}
	if v, ok := rec.get("status"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			h.Status, h.HasStatus = n, true
		}
	}
	m := p.Model
	if len(m.Helpers) == maxHelpers {
		m.Helpers = slices.Delete(m.Helpers, 0, 1)
	}
	m.Helpers = append(m.Helpers, h)
	return true
}

func (p *Parser) rename(rec *record) bool {
	old, ok1 := rec.get("name")
	nu, ok2 := rec.get("new_name")
	if !ok1 || !ok2 || nu == "" {
		return false
	}
	if r := p.Model.Resource(old); r != nil && p.Model.Resource(nu) == nil {
		r.Name = nu
		r.Keys["name"] = nu
	}
	return true
}

// resource finds or creates the named resource.
func (m *Model) resource(name string) *Resource {
	if r := m.Resource(name); r != nil {
		return r
	}
	r := &Resource{Name: name, Keys: map[string]string{}}
	m.Resources = append(m.Resources, r)
	return r
}

func (r *Resource) device(vol int) *Device {
	if d := r.Device(vol); d != nil {
		return d
	}
	d := &Device{Volume: vol, Minor: -1, Keys: map[string]string{}}
	r.Devices = append(r.Devices, d)
	return d
}

// findConnection finds a connection by peer-node-id, else by conn-name.
// Old drbd-utils print no peer-node-id for 8.4, and 8.4 drops conn-name in
// StandAlone, so either alone must find the same object.
func (r *Resource) findConnection(id ident) *Connection {
	for _, c := range r.Connections {
		if id.hasID && c.PeerNodeID == id.peerNodeID {
			return c
		}
	}
	for _, c := range r.Connections {
		if id.connName != "" && c.Name == id.connName && (!id.hasID || c.PeerNodeID < 0) {
			if id.hasID {
				c.PeerNodeID = id.peerNodeID // learnt from a newer line
			}
			return c
		}
	}
	return nil
}

// connection finds or creates the connection.
func (r *Resource) connection(id ident) *Connection {
	if c := r.findConnection(id); c != nil {
		return c
	}
	c := &Connection{PeerNodeID: -1, Name: id.connName, Keys: map[string]string{}}
	if id.hasID {
		c.PeerNodeID = id.peerNodeID
	}
	r.Connections = append(r.Connections, c)
	return c
}

func (c *Connection) peerDevice(vol int) *PeerDevice {
	if pd := c.PeerDevice(vol); pd != nil {
		return pd
	}
	pd := &PeerDevice{Volume: vol, Keys: map[string]string{}}
	c.PeerDevices = append(c.PeerDevices, pd)
	return pd
}

func (c *Connection) path(local, peer string) *Path {
	for _, p := range c.Paths {
		if p.Local == local && p.Peer == peer {
			return p
		}
	}
	p := &Path{Local: local, Peer: peer, Keys: map[string]string{}}
	c.Paths = append(c.Paths, p)
	return p
}
