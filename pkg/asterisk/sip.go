package asterisk

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// sipOptions sends a SIP OPTIONS request to uri and returns the status
// code of the final answer. Any final answer means Asterisk's SIP stack
// works: 200, 404 or 405 all say it parsed and answered the request.
func sipOptions(ctx context.Context, uri string) (int, error) {
	// sipgo logs transport chatter to stderr, which Pacemaker records as
	// the action's error output; the agent reports what matters itself.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	var recipient sip.Uri
	if err := sip.ParseUri(uri, &recipient); err != nil {
		return 0, fmt.Errorf("monitor_sipuri %q: %w", uri, err)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("gocf-asterisk-monitor"))
	if err != nil {
		return 0, err
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return 0, err
	}
	defer client.Close()
	req := sip.NewRequest(sip.OPTIONS, recipient)
	res, err := client.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}
