package main

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestMetadata(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := agent([]string{"-o", "metadata"}, nil, &out, &errb); rc != 0 {
		t.Fatalf("metadata: %d %s", rc, errb.String())
	}
	var md struct {
		Name   string `xml:"name,attr"`
		Params []struct {
			Name string `xml:"name,attr"`
		} `xml:"parameters>parameter"`
		Actions []struct {
			Name string `xml:"name,attr"`
		} `xml:"actions>action"`
	}
	if err := xml.Unmarshal(out.Bytes(), &md); err != nil {
		t.Fatal(err)
	}
	if md.Name != "fence_testbed" {
		t.Errorf("name %q", md.Name)
	}
	have := map[string]bool{}
	for _, p := range md.Params {
		have["p:"+p.Name] = true
	}
	for _, a := range md.Actions {
		have["a:"+a.Name] = true
	}
	for _, w := range []string{"p:action", "p:plug", "p:port", "a:off", "a:on", "a:reboot", "a:status", "a:list", "a:monitor", "a:metadata"} {
		if !have[w] {
			t.Errorf("metadata lacks %s", w)
		}
	}
}

// fakeSwitch answers like the bed's power switch and records the requests.
func fakeSwitch(t *testing.T, answers map[string]string) (string, func() []string) {
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	var got []string
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			line = strings.TrimSpace(line)
			mu.Lock()
			got = append(got, line)
			mu.Unlock()
			fmt.Fprintln(c, answers[strings.Fields(line)[0]])
			c.Close()
		}
	}()
	return sock, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

func TestActions(t *testing.T) {
	sock, got := fakeSwitch(t, map[string]string{"status": "OK off", "reboot": "OK", "list": "OK n1:on n2:off", "off": "ERR no"})
	cases := []struct {
		args  []string
		stdin string
		rc    int
		out   string
	}{
		{nil, "action=status\nport=n2\nnodename=n1\nsocket=" + sock + "\n", 2, "Status: OFF"},
		{[]string{"--action=reboot", "-n", "n2", "-s", sock}, "", 0, "Success"},
		{[]string{"-o", "list", "--socket", sock}, "", 0, "n1,\nn2,\n"},
		{nil, "# comment\naction=off\nplug=n1\nsocket=" + sock + "\nunknown=1\n", 1, ""},
		{[]string{"-o", "off", "-s", sock}, "", 2, ""},                                      // no plug
		{[]string{"-o", "dance", "-n", "n1", "-s", sock}, "", 2, ""},                        // bad action
		{[]string{"-o", "status", "-n", "n1", "-s", sock + ".missing"}, "", 3, ""},          // no switch
		{nil, "action=monitor\nsocket=" + filepath.Join(t.TempDir(), "none") + "\n", 3, ""}, // monitor fails
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		rc := agent(c.args, strings.NewReader(c.stdin), &out, &errb)
		if rc != c.rc || !strings.Contains(out.String(), c.out) {
			t.Errorf("%v %q: rc %d out %q err %q, want %d %q", c.args, c.stdin, rc, out.String(), errb.String(), c.rc, c.out)
		}
	}
	want := []string{"status n2", "reboot n2", "list", "off n1"}
	if r := got(); strings.Join(r, "|") != strings.Join(want, "|") {
		t.Errorf("requests %q, want %q", r, want)
	}
}
