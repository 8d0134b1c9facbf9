package asterisk

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// sipPeer answers OPTIONS on a loopback UDP port with code, as a SIP
// stack does (a protocol peer: the agent only wants a final answer).
func sipPeer(t *testing.T, code int) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, code, "", nil))
	})
	ctx, cancel := context.WithCancel(context.Background())
	go srv.ListenAndServe(ctx, "udp", addr)
	t.Cleanup(func() { cancel(); ua.Close() })
	time.Sleep(50 * time.Millisecond)
	return "sip:monitor@" + addr
}

func TestSIPOptions(t *testing.T) {
	for _, code := range []int{200, 404} {
		uri := sipPeer(t, code)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		got, err := sipOptions(ctx, uri)
		cancel()
		if err != nil || got != code {
			t.Errorf("%s: %d %v", uri, got, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := sipOptions(ctx, deadSIP(t)); err == nil {
		t.Error("an answer from nobody")
	}
}
