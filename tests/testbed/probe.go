package testbed

import (
	"context"
	"os/exec"
	"sort"
	"sync"
	"time"
)

// Prober runs a probe command from the client namespace every Interval (each probe bounded
// by Timeout, probes may overlap) and remembers when probes started after a mark succeeded.
type Prober struct {
	Argv     []string
	Interval time.Duration
	Timeout  time.Duration

	mu     sync.Mutex
	ok     [][2]time.Time // start and completion of each successful probe
	failed []time.Time    // start of each failed probe
	stop   chan struct{}
	wg     sync.WaitGroup
	maxRun time.Duration
}

// NewProber returns a prober of argv (already wrapped for the client namespace).
func NewProber(argv []string, interval, timeout, maxRun time.Duration) *Prober {
	return &Prober{Argv: argv, Interval: interval, Timeout: timeout, maxRun: maxRun, stop: make(chan struct{})}
}

// Once runs the probe one time and reports success.
func (p *Prober) Once() bool {
	ctx, cancel := context.WithTimeout(context.Background(), p.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.Argv[0], p.Argv[1:]...)
	cmd.WaitDelay = time.Second
	return cmd.Run() == nil
}

// Start begins probing in the background; it stops by itself after maxRun.
func (p *Prober) Start() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		end := time.After(p.maxRun)
		t := time.NewTicker(p.Interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-end:
				return
			case <-t.C:
			}
			started := time.Now()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				ok := p.Once()
				done := time.Now()
				p.mu.Lock()
				if ok {
					p.ok = append(p.ok, [2]time.Time{started, done})
				} else {
					p.failed = append(p.failed, started)
				}
				p.mu.Unlock()
			}()
		}
	}()
}

// First returns the time from mark to the first completed success of a probe started after
// mark (0, false if none yet).
func (p *Prober) First(mark time.Time) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, s := range p.ok {
		if !s[0].Before(mark) && (first.IsZero() || s[1].Before(first)) {
			first = s[1]
		}
	}
	if first.IsZero() {
		return 0, false
	}
	return first.Sub(mark), true
}

// Recovery is for a fault after which the old node may still answer for a
// while (a clean shutdown, a switch): the time from mark to the first success
// of a probe started after the last failed one, and how long the service was
// unanswered (first failure to that success). Without a failure after mark
// there was no outage: recovery and outage are 0. ok is false when no probe
// has succeeded after the last failure yet.
func (p *Prober) Recovery(mark time.Time) (recovery, outage time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var firstFail, lastFail time.Time
	for _, f := range p.failed {
		if f.Before(mark) {
			continue
		}
		if firstFail.IsZero() || f.Before(firstFail) {
			firstFail = f
		}
		if f.After(lastFail) {
			lastFail = f
		}
	}
	if firstFail.IsZero() {
		return 0, 0, true
	}
	var first time.Time
	for _, s := range p.ok {
		if s[0].After(lastFail) && (first.IsZero() || s[1].Before(first)) {
			first = s[1]
		}
	}
	if first.IsZero() {
		return 0, 0, false
	}
	return first.Sub(mark), first.Sub(firstFail), true
}

// ProbeResult is one completed probe: when it started and whether it succeeded.
type ProbeResult struct {
	At time.Time
	OK bool
}

// Results returns every completed probe, in the order of their starts.
func (p *Prober) Results() []ProbeResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	rs := make([]ProbeResult, 0, len(p.ok)+len(p.failed))
	for _, s := range p.ok {
		rs = append(rs, ProbeResult{At: s[0], OK: true})
	}
	for _, f := range p.failed {
		rs = append(rs, ProbeResult{At: f})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].At.Before(rs[j].At) })
	return rs
}

// Stop ends probing and waits for running probes.
func (p *Prober) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

// PingProbe and SIPProbe are the client-side probes of the VIP.
func (b *Bed) PingProbe() []string { return b.ClientCmd("ping", "-n", "-c", "1", "-W", "1", VIP) }

// SIPProbe sends one SIP OPTIONS to the VIP with sipsak.
func (b *Bed) SIPProbe() []string { return b.ClientCmd("sipsak", "-H", ClientIP, "-s", "sip:"+VIP) }
