package lab

import (
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Capture records every frame arriving on an interface inside a namespace,
// through an AF_PACKET socket opened in that namespace.
type Capture struct {
	mu     sync.Mutex
	frames [][]byte
	done   chan struct{}
	ended  chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// StartCapture starts recording on ifname in ns; it returns once the socket
// is bound, so nothing sent afterwards is missed. Stopped when the test ends.
func StartCapture(t testing.TB, ns *Netns, ifname string) *Capture {
	t.Helper()
	c := &Capture{done: make(chan struct{}), ended: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(c.ended)
		// This thread enters ns and is never unlocked: the runtime
		// discards it when the goroutine ends, so no other goroutine
		// ever runs in the test namespace by accident.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns.Name)
		if err != nil {
			ready <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			ready <- err
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			ready <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			ready <- err
			return
		}
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		ready <- nil
		buf := make([]byte, 65536)
		for {
			select {
			case <-c.done:
				return
			default:
			}
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			// Only what arrives from the far end, not what this end sends.
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			c.mu.Lock()
			c.frames = append(c.frames, append([]byte(nil), buf[:n]...))
			c.mu.Unlock()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("capture on %s in %s: %v", ifname, ns.Name, err)
	}
	t.Cleanup(c.Stop)
	return c
}

// Stop ends the capture (idempotent).
func (c *Capture) Stop() {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	<-c.ended
}

// Frames returns a copy of what was captured so far.
func (c *Capture) Frames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.frames...)
}

// Wait polls until match, applied to the frames so far, reports true or the
// bound passes; it returns the last frames seen either way.
func (c *Capture) Wait(bound time.Duration, match func([][]byte) bool) [][]byte {
	deadline := time.Now().Add(bound)
	for {
		f := c.Frames()
		if match(f) || time.Now().After(deadline) {
			return f
		}
		time.Sleep(20 * time.Millisecond)
	}
}
