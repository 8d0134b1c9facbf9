// Command fence_testbed is the fence agent of gocf's cluster test bed (test equipment, not a
// product). In a node it follows fence-agents' conventions: options as key=value lines on
// stdin when there are no arguments, else as command-line options (-o/--action, -n/--plug,
// ...); actions metadata, list, list-status, monitor, status, off, on, reboot, validate-all;
// fence-agents' exit codes. It asks the test bed on the host, over a unix socket the bed
// bind-mounts into every node (/run/gtb-fence/fence.sock), to power the victim off (the bed's
// power-off: link cut, every process of the node killed) or to cycle it (power-off, then boot).
//
// On the host, "fence_testbed serve" is that server; testbed up starts it in ns mode.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

// fence-agents' exit codes (fencing.py).
const (
	ecOK          = 0
	ecGeneric     = 1
	ecBadArgs     = 2
	ecLoginDenied = 3 // cannot reach the device
	ecTimedOut    = 5
	ecStatusOff   = 2 // status: the plug is off
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serve(os.Args[2:]))
	}
	os.Exit(agent(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func serve(args []string) int {
	f := flag.NewFlagSet("serve", flag.ExitOnError)
	var cfg testbed.Config
	f.StringVar(&cfg.StateDir, "state", testbed.DefaultStateDir, "state directory of the bed")
	f.StringVar(&cfg.DataDir, "data", testbed.DefaultDataDir, "data directory of the bed")
	f.StringVar(&cfg.CacheDir, "cache", testbed.DefaultCacheDir, "image cache")
	socket := f.String("socket", "", "unix socket to listen on")
	logPath := f.String("log", "", "fence log (appended)")
	_ = f.Parse(args)
	if *socket == "" || *logPath == "" {
		fmt.Fprintln(os.Stderr, "fence_testbed serve: --socket and --log are required")
		return ecBadArgs
	}
	if err := testbed.ServeFence(cfg, *socket, *logPath); err != nil {
		fmt.Fprintln(os.Stderr, "fence_testbed serve:", err)
		return ecGeneric
	}
	return ecOK
}

type options struct {
	action, plug, socket string
	delay, timeout       int
	verbose              bool
}

func agent(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := options{action: "reboot", socket: testbed.FenceSocketInNode, timeout: 20}
	set := func(k, v string) error {
		switch strings.TrimLeft(k, "-") {
		case "o", "action", "option": // "option" is the old name of action
			o.action = v
		case "n", "plug", "port":
			o.plug = v
		case "s", "socket":
			o.socket = v
		case "delay":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("delay %q: want seconds", v)
			}
			o.delay = n
		case "power_timeout", "power-timeout":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("power_timeout %q: want seconds", v)
			}
			o.timeout = n
		case "v", "verbose":
			o.verbose = v == "" || v == "1" || strings.EqualFold(v, "on") || strings.EqualFold(v, "true") || strings.EqualFold(v, "yes")
		case "D", "debug", "debug_file", "debug-file", "nodename", "N":
			// accepted and ignored (Pacemaker passes nodename)
		default:
			fmt.Fprintf(stderr, "Parse error: Ignoring unknown option '%s=%s'\n", k, v)
		}
		return nil
	}
	if len(args) == 0 {
		sc := bufio.NewScanner(io.LimitReader(stdin, 1<<20))
		for sc.Scan() {
			l := strings.TrimSpace(sc.Text())
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				fmt.Fprintf(stderr, "Parse error: Ignoring line '%s'\n", l)
				continue
			}
			if err := set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
				fmt.Fprintln(stderr, "Failed:", err)
				return ecBadArgs
			}
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "-h", "--help":
			fmt.Fprintln(stdout, "usage: fence_testbed [-o ACTION] [-n PLUG] [-s SOCKET] [--delay S] [-v] | fence_testbed < key=value lines")
			return ecOK
		case "-V", "--version":
			fmt.Fprintln(stdout, "fence_testbed (gocf test bed) 1")
			return ecOK
		case "-v", "--verbose":
			o.verbose = true
			continue
		}
		if !strings.HasPrefix(a, "-") {
			fmt.Fprintf(stderr, "Failed: unexpected argument %q\n", a)
			return ecBadArgs
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "Failed: option %s needs a value\n", a)
				return ecBadArgs
			}
			i++
			v = args[i]
		}
		if err := set(k, v); err != nil {
			fmt.Fprintln(stderr, "Failed:", err)
			return ecBadArgs
		}
	}
	switch o.action {
	case "metadata":
		fmt.Fprint(stdout, metadata)
		return ecOK
	case "validate-all":
		return ecOK
	case "on", "off", "reboot", "status":
		if o.plug == "" {
			fmt.Fprintln(stderr, "Failed: You have to enter plug number or machine identification")
			return ecBadArgs
		}
	case "monitor", "list", "list-status":
	default:
		fmt.Fprintf(stderr, "Failed: Unrecognised action '%s'\n", o.action)
		return ecBadArgs
	}
	if o.delay > 0 && (o.action == "off" || o.action == "reboot") {
		if o.verbose {
			fmt.Fprintf(stderr, "Delay %d second(s) before logging in to the fence device\n", o.delay)
		}
		time.Sleep(time.Duration(o.delay) * time.Second)
	}
	reply, err := ask(o.socket, time.Duration(o.timeout)*time.Second+5*time.Second, o.action, o.plug)
	if err != nil {
		fmt.Fprintln(stderr, "Failed: Unable to connect/login to fencing device:", err)
		if strings.Contains(err.Error(), "timeout") {
			return ecTimedOut
		}
		return ecLoginDenied
	}
	if o.verbose {
		fmt.Fprintf(stderr, "%s %s: %s\n", o.action, o.plug, reply)
	}
	word, rest, _ := strings.Cut(reply, " ")
	if word != "OK" {
		fmt.Fprintf(stderr, "Failed: %s\n", rest)
		return ecGeneric
	}
	switch o.action {
	case "status":
		if rest == "off" {
			fmt.Fprintln(stdout, "Status: OFF")
			return ecStatusOff
		}
		fmt.Fprintln(stdout, "Status: ON")
	case "list", "list-status":
		for _, f := range strings.Fields(rest) {
			node, state, _ := strings.Cut(f, ":")
			if o.action == "list" {
				fmt.Fprintf(stdout, "%s,\n", node)
			} else {
				fmt.Fprintf(stdout, "%s,,%s\n", node, state)
			}
		}
	case "on", "off", "reboot":
		fmt.Fprintln(stdout, "Success: "+map[string]string{"on": "Powered ON", "off": "Powered OFF", "reboot": "Rebooted"}[o.action])
	}
	return ecOK
}

// ask sends "ACTION [PLUG]" and reads the one-line answer.
func ask(socket string, timeout time.Duration, action, plug string) (string, error) {
	c, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(c, "%s %s\n", action, plug); err != nil {
		return "", err
	}
	l, err := bufio.NewReader(io.LimitReader(c, 64<<10)).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(l), nil
}

// metadata in the form fence-agents print it (fencing.py's metadata()).
const metadata = `<?xml version="1.0" ?>
<resource-agent name="fence_testbed" shortdesc="Fence agent for gocf's cluster test bed" >
<longdesc>fence_testbed powers a node of gocf's cluster test bed off, on, or off and on again, by asking the test bed on the host over a unix socket that the bed bind-mounts into every node. Power-off is the bed's power loss: both cables cut, every process of the node killed, its kernel state gone. It is test equipment, not a product.</longdesc>
<vendor-url>https://github.com/gocf/gocf</vendor-url>
<parameters>
	<parameter name="action" unique="0" required="1">
		<getopt mixed="-o, --action=[action]" />
		<content type="string" default="reboot"  />
		<shortdesc lang="en">Fencing action</shortdesc>
	</parameter>
	<parameter name="plug" unique="0" required="1" obsoletes="port">
		<getopt mixed="-n, --plug=[id]" />
		<content type="string"  />
		<shortdesc lang="en">Name of the test bed's node (n1, n2, n3)</shortdesc>
	</parameter>
	<parameter name="port" unique="0" required="1" deprecated="1">
		<getopt mixed="-n, --plug=[id]" />
		<content type="string"  />
		<shortdesc lang="en">Name of the test bed's node (n1, n2, n3)</shortdesc>
	</parameter>
	<parameter name="socket" unique="0" required="0">
		<getopt mixed="-s, --socket=[path]" />
		<content type="string" default="` + testbed.FenceSocketInNode + `"  />
		<shortdesc lang="en">Unix socket of the test bed's power switch</shortdesc>
	</parameter>
	<parameter name="verbose" unique="0" required="0">
		<getopt mixed="-v, --verbose" />
		<content type="boolean"  />
		<shortdesc lang="en">Verbose mode</shortdesc>
	</parameter>
	<parameter name="debug_file" unique="0" required="0" obsoletes="debug">
		<getopt mixed="-D, --debug-file=[debugfile]" />
		<content type="string"  />
		<shortdesc lang="en">Accepted for compatibility, ignored</shortdesc>
	</parameter>
	<parameter name="version" unique="0" required="0">
		<getopt mixed="-V, --version" />
		<content type="boolean"  />
		<shortdesc lang="en">Display version information and exit</shortdesc>
	</parameter>
	<parameter name="help" unique="0" required="0">
		<getopt mixed="-h, --help" />
		<content type="boolean"  />
		<shortdesc lang="en">Display help and exit</shortdesc>
	</parameter>
	<parameter name="delay" unique="0" required="0">
		<getopt mixed="--delay=[seconds]" />
		<content type="second" default="0"  />
		<shortdesc lang="en">Wait X seconds before fencing is started</shortdesc>
	</parameter>
	<parameter name="power_timeout" unique="0" required="0">
		<getopt mixed="--power-timeout=[seconds]" />
		<content type="second" default="20"  />
		<shortdesc lang="en">Test X seconds for status change after ON/OFF</shortdesc>
	</parameter>
</parameters>
<actions>
	<action name="on" automatic="0"/>
	<action name="off" />
	<action name="reboot" />
	<action name="status" />
	<action name="list" />
	<action name="list-status" />
	<action name="monitor" />
	<action name="metadata" />
	<action name="validate-all" />
</actions>
</resource-agent>
`
