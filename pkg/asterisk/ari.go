package asterisk

import (
	"context"
	"fmt"

	"github.com/CyCoreSystems/ari/v5/client/native"
)

// ariInfo asks the Asterisk REST Interface for /asterisk/info and returns
// the version it reports. The client has no context support, so the call
// runs aside and the deadline is enforced here.
func ariInfo(ctx context.Context, url, user, password string) (string, error) {
	c := native.New(&native.Options{Application: "gocf-monitor", URL: url, Username: user, Password: password})
	type res struct {
		version string
		err     error
	}
	ch := make(chan res, 1)
	go func() {
		info, err := c.Asterisk().Info(nil)
		if err != nil {
			ch <- res{err: err}
			return
		}
		ch <- res{version: info.SystemInfo.Version}
	}()
	select {
	case r := <-ch:
		return r.version, r.err
	case <-ctx.Done():
		return "", fmt.Errorf("no answer from %s before the deadline", url)
	}
}
