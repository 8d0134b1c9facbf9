package fencepeer

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/gocf/gocf/pkg/drbd"
)

// DiskSummary is what the decisions need of DRBD's state.
type DiskSummary struct {
	Configured bool // the resource exists with at least one volume
	Primary    bool
	// AllUpToDate and AllConsistent are over the local disks; a
	// Consistent disk is consistent but not UpToDate.
	AllUpToDate, AllConsistent bool
	// PeersUpToDate: every peer disk of every connection is UpToDate (false
	// without any peer device).
	PeersUpToDate    bool
	Disks, PeerDisks []string // for the log
}

func (s DiskSummary) String() string {
	if !s.Configured {
		return "not configured"
	}
	role := "Secondary"
	if s.Primary {
		role = "Primary"
	}
	return fmt.Sprintf("%s, disk %s, peer disk %s", role, strings.Join(s.Disks, ","), strings.Join(s.PeerDisks, ","))
}

// SummaryFromEvents2 reads `drbdsetup events2 --now RES`.
func SummaryFromEvents2(out, res string) DiskSummary {
	m := drbd.ParseString(out)
	r := m.Resource(res)
	s := DiskSummary{AllUpToDate: true, AllConsistent: true, PeersUpToDate: true}
	if r == nil || len(r.Devices) == 0 {
		return DiskSummary{}
	}
	s.Configured = true
	s.Primary = r.Role == drbd.Primary
	for _, d := range r.Devices {
		s.Disks = append(s.Disks, string(d.Disk))
		s.addDisk(d.Disk)
	}
	n := 0
	for _, c := range r.Connections {
		for _, pd := range c.PeerDevices {
			n++
			s.PeerDisks = append(s.PeerDisks, string(pd.PeerDisk))
			if pd.PeerDisk != drbd.UpToDate {
				s.PeersUpToDate = false
			}
		}
	}
	if n == 0 {
		s.PeersUpToDate = false
	}
	return s
}

func (s *DiskSummary) addDisk(d drbd.DiskState) {
	switch d {
	case drbd.UpToDate:
	case drbd.Consistent:
		s.AllUpToDate = false
	default:
		s.AllUpToDate = false
		s.AllConsistent = false
	}
}

// ProcDRBDVersion reads the major version from /proc/drbd's first line
// ("version: 8.4.11 (api:1/proto:86-101)"); 0 when unknown.
func ProcDRBDVersion(proc string) int {
	line, _, _ := strings.Cut(proc, "\n")
	v, ok := strings.CutPrefix(strings.TrimSpace(line), "version: ")
	if !ok {
		return 0
	}
	maj, _, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(maj)
	return n
}

// SummaryFromProcDRBD reads the lines of the minors in DRBD 8.4's
// /proc/drbd (" 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate
// C r-----"). In a fence-peer handler of DRBD 8.4, drbdsetup must not be
// run: the kernel may call the handler while holding the netlink lock.
func SummaryFromProcDRBD(proc string, minors []int) DiskSummary {
	s := DiskSummary{AllUpToDate: true, AllConsistent: true, PeersUpToDate: true}
	want := map[int]bool{}
	for _, m := range minors {
		want[m] = true
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(proc))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasSuffix(f[0], ":") || !strings.HasPrefix(f[1], "cs:") {
			continue
		}
		minor, err := strconv.Atoi(strings.TrimSuffix(f[0], ":"))
		if err != nil || !want[minor] {
			continue
		}
		var role, disk, pdisk string
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, ":")
			switch k {
			case "ro", "st":
				role, _, _ = strings.Cut(v, "/")
			case "ds":
				disk, pdisk, _ = strings.Cut(v, "/")
			}
		}
		if disk == "" {
			disk = "Unconfigured"
		}
		if pdisk == "" {
			pdisk = "DUnknown"
		}
		n++
		s.Primary = s.Primary || role == "Primary"
		s.Disks = append(s.Disks, disk)
		s.PeerDisks = append(s.PeerDisks, pdisk)
		s.addDisk(drbd.DiskState(disk))
		if pdisk != string(drbd.UpToDate) {
			s.PeersUpToDate = false
		}
		if role == "Primary" || role == "Secondary" {
			s.Configured = true
		}
	}
	if n == 0 {
		return DiskSummary{}
	}
	return s
}

// ParseMinors reads DRBD_MINOR ("0" or "0 1").
func ParseMinors(s string) []int {
	var out []int
	for _, f := range strings.Fields(s) {
		if n, err := strconv.Atoi(f); err == nil && n >= 0 {
			out = append(out, n)
		}
	}
	return out
}
