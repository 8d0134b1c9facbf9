package testbed

import (
	"reflect"
	"strings"
	"testing"
)

func TestDMTables(t *testing.T) {
	// /dev/vdb is 256 MiB: 524288 sectors
	if got := dmLinearTable(524288); got != "0 524288 linear /dev/vdb 0" {
		t.Errorf("linear table %q", got)
	}
	if got := dmErrorTable(524288); got != "0 524288 error" {
		t.Errorf("error table %q", got)
	}
	for in, want := range map[string]int64{"524288\n": 524288, " 2048 ": 2048} {
		if n, err := parseSectors(in); err != nil || n != want {
			t.Errorf("parseSectors(%q) = %d, %v", in, n, err)
		}
	}
	for _, in := range []string{"", "0", "-1", "blockdev: cannot open /dev/vdb", "12 34"} {
		if n, err := parseSectors(in); err == nil {
			t.Errorf("parseSectors(%q) = %d, want an error", in, n)
		}
	}
}

func TestDMScripts(t *testing.T) {
	c := dmCreateScript(dmLinearTable(524288))
	for _, w := range []string{"set -e\n", "modprobe dm-mod\n",
		"dmsetup info 'gtb-r0back' >/dev/null 2>&1 || dmsetup create 'gtb-r0back' --table '0 524288 linear /dev/vdb 0'\n",
		"test -b /dev/mapper/gtb-r0back\n"} {
		if !strings.Contains(c, w) {
			t.Errorf("create script lacks %q:\n%s", w, c)
		}
	}
	s := dmSwapScript(dmErrorTable(524288))
	load := strings.Index(s, "dmsetup load 'gtb-r0back' --table '0 524288 error'\n")
	resume := strings.Index(s, "dmsetup resume 'gtb-r0back'\n")
	if !strings.HasPrefix(s, "set -e\n") || load < 0 || resume < load {
		t.Errorf("swap script: load, then resume:\n%s", s)
	}
	// no explicit suspend: DRBD's I/O would queue until the resume
	if strings.Contains(s, "suspend") {
		t.Errorf("swap script suspends:\n%s", s)
	}
}

func TestDRBDResourceOn(t *testing.T) {
	nodes := []string{"n1", "n2"}
	for _, drbd9 := range []bool{false, true} {
		plain := DRBDResource(nodes, "gocf", drbd9)
		if plain != DRBDResourceOn(nodes, "gocf", drbd9, DRBDDisk) || !strings.Contains(plain, "\n  disk /dev/vdb;\n") {
			t.Errorf("drbd9 %v: r0 is not on /dev/vdb:\n%s", drbd9, plain)
		}
		mapped := DRBDResourceOn(nodes, "gocf", drbd9, DMBackingDev)
		if !strings.Contains(mapped, "\n  disk /dev/mapper/gtb-r0back;\n") || strings.Contains(mapped, "/dev/vdb") {
			t.Errorf("drbd9 %v: r0 is not on the mapping:\n%s", drbd9, mapped)
		}
		// nothing else differs (on-io-error stays DRBD's default, detach)
		if strings.Replace(plain, "disk /dev/vdb;", "disk "+DMBackingDev+";", 1) != mapped || strings.Contains(mapped, "on-io-error") {
			t.Errorf("drbd9 %v: more than the disk differs:\n%s\n%s", drbd9, plain, mapped)
		}
	}
	// the default bed keeps /dev/vdb; only DMBacking (set by RunFaults in vm mode) maps it
	if d := (&Bed{}).drbdDisk(); d != "/dev/vdb" {
		t.Errorf("default disk %s", d)
	}
	if d := (&Bed{st: State{DMBacking: true}}).drbdDisk(); d != "/dev/mapper/gtb-r0back" {
		t.Errorf("mapped disk %s", d)
	}
	if (Config{}).DMBacking {
		t.Error("DMBacking is on by default")
	}
}

func TestLocalDisk(t *testing.T) {
	for in, want := range map[string]string{
		"Diskless/UpToDate\n":   "Diskless", // 8.4
		"Failed/UpToDate":       "Failed",
		"UpToDate/UpToDate\n":   "UpToDate",
		"Diskless\nUpToDate\n":  "Diskless",
		"Inconsistent/UpToDate": "Inconsistent",
		"":                      "",
	} {
		if got := localDisk(in); got != want {
			t.Errorf("localDisk(%q) = %q, want %q", in, got, want)
		}
	}
	for d, want := range map[string]bool{"Diskless": true, "Failed": true, "Detaching": true, "UpToDate": false, "Inconsistent": false, "": false} {
		if detached(d) != want {
			t.Errorf("detached(%q) = %v", d, !want)
		}
	}
}

func TestFault6Variants(t *testing.T) {
	ns, err := ParseFaults("6", "ns")
	if err != nil || len(ns) != 1 || ns[0].Name != "replica-ro" || ns[0].MayMove || !ns[0].InPlace {
		t.Errorf("ns fault 6: %+v %v", ns, err)
	}
	vm, err := ParseFaults("5-7", "vm")
	if err != nil || len(vm) != 3 || !reflect.DeepEqual(vm[1], Fault6DM) || vm[1].Name != "replica-eio" || !vm[1].MayMove || vm[1].InPlace || vm[1].Quiet {
		t.Errorf("vm fault 6: %+v %v", vm, err)
	}
	all, _ := ParseFaults("", "vm")
	if f, _ := FaultByID(6); !reflect.DeepEqual(all[5], Fault6DM) || f.Name != "replica-ro" || !reflect.DeepEqual(Fault6Ext4(), f) {
		t.Errorf("vm faults %+v", all)
	}
}
