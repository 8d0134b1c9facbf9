package asterisk

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// SIPAnswer is the final answer to an OPTIONS request: its status code
// and reason phrase, as the peer sent them.
type SIPAnswer struct {
	Code   int
	Reason string
}

// Status is the status line without the version ("500 Server Internal
// Error"), bounded and quoted: the reason phrase comes from the network,
// so control characters are escaped.
func (a SIPAnswer) Status() string {
	return fmt.Sprintf("%.80q", fmt.Sprintf("%d %s", a.Code, a.Reason))
}

// TakesCalls tells whether the answer says that the SIP stack that sent
// it can take calls. What counts is who the answer blames (RFC 3261, 21):
//
//   - 2xx and 3xx: the request was handled.
//   - 4xx (Request Failure) blames the request: 404 (no such extension in
//     the endpoint's context), 401/407 (a challenge), 403, 405, 480, 488
//     and the like are what a working Asterisk answers to an unknown or
//     unauthenticated caller; its stack parsed the request, identified the
//     caller and ran its logic.
//   - 5xx (Server Failure) blames the server for "an apparently valid
//     request", and a bare OPTIONS is one: 500 is what Asterisk 22 answers
//     to everything when pjsip cannot identify endpoints (its endpoint
//     identifier modules unloaded; no call gets through), 503 what it
//     answers to OPTIONS while it shuts down ("not taking any new calls"),
//     501 a stack that lost its OPTIONS handling, 502/504 a gateway that
//     cannot reach what is behind it. None of these take calls, and a
//     restart (or a move) can cure them.
//   - 6xx (Global Failure) is a definitive answer about the called user
//     (busy, decline, does not exist anywhere): the stack worked and a
//     decision was made by configuration, which DRBD gives the other node
//     too, so failing on it could only move the PBX around.
//
// A code outside 200-699 is no SIP answer at all.
func (a SIPAnswer) TakesCalls() bool {
	return a.Code >= 200 && a.Code < 500 || a.Code >= 600 && a.Code < 700
}

// sipOptions sends a SIP OPTIONS request to uri and returns the final
// answer (provisional answers are skipped).
func sipOptions(ctx context.Context, uri string) (SIPAnswer, error) {
	// sipgo logs transport chatter to stderr, which Pacemaker records as
	// the action's error output; the agent reports what matters itself.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	var recipient sip.Uri
	if err := sip.ParseUri(uri, &recipient); err != nil {
		return SIPAnswer{}, fmt.Errorf("monitor_sipuri %q: %w", uri, err)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("gocf-asterisk-monitor"))
	if err != nil {
		return SIPAnswer{}, err
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return SIPAnswer{}, err
	}
	defer client.Close()
	req := sip.NewRequest(sip.OPTIONS, recipient)
	res, err := client.Do(ctx, req)
	if err != nil {
		return SIPAnswer{}, err
	}
	return SIPAnswer{Code: res.StatusCode, Reason: res.Reason}, nil
}
