package testbed

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// Pinger pings many addresses from the client namespace through one raw ICMP socket, opened
// there by a thread that entered the namespace: no process per probe, so that pinging 200
// addresses every 100 ms costs the two cores next to nothing while the survivors start them.
type Pinger struct {
	fd int
	id uint16

	mu    sync.Mutex
	sent  map[uint16]time.Time // sequence number: when that round was sent
	first map[netip.Addr]time.Time
	mark  time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

// OpenPinger opens a raw ICMP socket in the network namespace at nsPath
// (/run/netns/NAME); the calling goroutine's namespace is left as it was.
func OpenPinger(nsPath string) (*Pinger, error) {
	type res struct {
		fd  int
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, err}
			return
		}
		defer orig.Close()
		h, err := netns.GetFromPath(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, err}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, err}
			return
		}
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.IPPROTO_ICMP)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread() // else the thread ends with the goroutine, still locked
		}
		ch <- res{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, fmt.Errorf("ICMP socket in %s: %w", nsPath, r.err)
	}
	tv := syscall.NsecToTimeval(int64(200 * time.Millisecond))
	if err := syscall.SetsockoptTimeval(r.fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		syscall.Close(r.fd)
		return nil, err
	}
	p := &Pinger{fd: r.fd, id: uint16(os.Getpid()) ^ 0x5ca1, sent: map[uint16]time.Time{}, first: map[netip.Addr]time.Time{},
		stop: make(chan struct{})}
	p.wg.Add(1)
	go p.receive()
	return p, nil
}

// icmpEcho is an ICMP echo request with id, seq and a checksum.
func icmpEcho(id, seq uint16) []byte {
	b := make([]byte, 16)
	b[0] = 8 // echo request
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], "gtbscale")
	binary.BigEndian.PutUint16(b[2:], icmpChecksum(b))
	return b
}

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// parseEchoReply reads an IPv4 packet as a raw ICMP socket receives it: an echo reply's
// source, id and sequence number.
func parseEchoReply(pkt []byte) (src netip.Addr, id, seq uint16, ok bool) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return src, 0, 0, false
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < 20 || len(pkt) < ihl+8 || pkt[9] != syscall.IPPROTO_ICMP {
		return src, 0, 0, false
	}
	icmp := pkt[ihl:]
	if icmp[0] != 0 || icmp[1] != 0 { // echo reply, code 0
		return src, 0, 0, false
	}
	src = netip.AddrFrom4([4]byte(pkt[12:16]))
	return src, binary.BigEndian.Uint16(icmp[4:]), binary.BigEndian.Uint16(icmp[6:]), true
}

func (p *Pinger) receive() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		n, _, err := syscall.Recvfrom(p.fd, buf, 0)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			return // closed
		}
		now := time.Now()
		src, id, seq, ok := parseEchoReply(buf[:n])
		if !ok || id != p.id {
			continue
		}
		p.mu.Lock()
		// a reply counts when its request was sent at or after the mark
		if at, ok := p.sent[seq]; ok && !at.Before(p.mark) {
			if _, seen := p.first[src]; !seen {
				p.first[src] = now
			}
		}
		p.mu.Unlock()
	}
}

// Mark forgets the answers so far: from now on only requests sent after mark count.
func (p *Pinger) Mark(mark time.Time) {
	p.mu.Lock()
	p.mark, p.first = mark, map[netip.Addr]time.Time{}
	p.mu.Unlock()
}

// Round sends one echo request to each address of addrs that has not answered since the mark.
func (p *Pinger) Round(addrs []netip.Addr) {
	p.mu.Lock()
	seq := uint16(len(p.sent) + 1)
	p.sent[seq] = time.Now()
	var todo []netip.Addr
	for _, a := range addrs {
		if _, ok := p.first[a]; !ok {
			todo = append(todo, a)
		}
	}
	p.mu.Unlock()
	pkt := icmpEcho(p.id, seq)
	for _, a := range todo {
		_ = syscall.Sendto(p.fd, pkt, 0, &syscall.SockaddrInet4{Addr: a.As4()})
	}
}

// Answered returns when each address first answered a request sent after the mark.
func (p *Pinger) Answered() map[netip.Addr]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[netip.Addr]time.Time, len(p.first))
	for a, t := range p.first {
		m[a] = t
	}
	return m
}

// Close stops the receiver and closes the socket.
func (p *Pinger) Close() {
	close(p.stop)
	p.wg.Wait() // the receiver wakes up at least every 200 ms (SO_RCVTIMEO)
	syscall.Close(p.fd)
}
