package asterisk

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
		tx.Respond(sip.NewResponseFromRequest(req, code, "Reason "+strconv.Itoa(code), nil))
	})
	ctx, cancel := context.WithCancel(context.Background())
	go srv.ListenAndServe(ctx, "udp", addr)
	t.Cleanup(func() { cancel(); ua.Close() })
	time.Sleep(50 * time.Millisecond)
	return "sip:monitor@" + addr
}

func TestSIPOptions(t *testing.T) {
	for _, code := range []int{200, 404, 500} {
		uri := sipPeer(t, code)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		got, err := sipOptions(ctx, uri)
		cancel()
		if err != nil || got.Code != code || got.Reason != "Reason "+strconv.Itoa(code) {
			t.Errorf("%s: %+v %v", uri, got, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := sipOptions(ctx, deadSIP(t)); err == nil {
		t.Error("an answer from nobody")
	}
}

// recordedSIP is the final answer Asterisk 22 sent, as recorded in
// testdata/sip (see testdata/README.md), read by sipgo's parser as the
// agent's client reads it.
func recordedSIP(name string) SIPAnswer {
	b, err := os.ReadFile(filepath.Join("testdata", "sip", name))
	if err != nil {
		panic(err)
	}
	msg, err := sip.ParseMessage(b)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	res, ok := msg.(*sip.Response)
	if !ok {
		panic(name + " is no SIP answer")
	}
	return SIPAnswer{Code: res.StatusCode, Reason: res.Reason}
}

func TestRecordedSIPAnswers(t *testing.T) {
	for name, want := range map[string]string{
		"options-200.txt": `"200 OK"`,
		// Asterisk 22.10.1 with its endpoint identifier modules unloaded.
		"options-500.txt": `"500 Server Internal Error"`,
	} {
		a := recordedSIP(name)
		if a.Status() != want || a.TakesCalls() != (a.Code == 200) {
			t.Errorf("%s: %s, takes calls %v", name, a.Status(), a.TakesCalls())
		}
	}
}

// Which final answers say that the SIP stack can take calls: only 5xx
// (and no SIP code at all) say it cannot.
func TestSIPAnswerTakesCalls(t *testing.T) {
	alive := []int{200, 202, 300, 302, 400, 401, 403, 404, 405, 407, 408, 420, 480, 481, 486, 488, 489, 600, 603, 604, 606, 699}
	dead := []int{0, 100, 183, 199, 500, 501, 502, 503, 504, 505, 513, 580, 599, 700, 999}
	for _, c := range alive {
		if !(SIPAnswer{Code: c}).TakesCalls() {
			t.Errorf("%d counts as dead", c)
		}
	}
	for _, c := range dead {
		if (SIPAnswer{Code: c}).TakesCalls() {
			t.Errorf("%d counts as alive", c)
		}
	}
	// The reason phrase comes from the network: quoted, control
	// characters escaped, bounded.
	a := SIPAnswer{Code: 500, Reason: "Server Internal Error\r\nocf-exit-reason:forged\x1b[31m" + strings.Repeat("x", 200)}
	s := a.Status()
	if !strings.HasPrefix(s, `"500 Server Internal Error\r\nocf-exit-reason:forged\x1b[31mxx`) || strings.ContainsAny(s, "\r\n\x1b") || len(s) > 100 {
		t.Errorf("%s", s)
	}
}
