package asterisk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ariInfo asks the Asterisk REST Interface for /asterisk/info and returns
// the version it reports. Plain net/http: the status is read before the
// body (Asterisk answers 401 with a JSON message of its own), the request
// ends with ctx, and no error carries the URL's userinfo.
func ariInfo(ctx context.Context, base, user, password string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("ari_url %s is not a URL", redactURL(base))
	}
	shown := u.Redacted()
	u = u.JoinPath("asterisk", "info")
	u.User = nil // the credentials are ari_username and ari_password
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("ARI at %s: %v", shown, unwrapURLError(err))
	}
	req.SetBasicAuth(user, password)
	res, err := ariClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("no answer from ARI at %s before the deadline", shown)
		}
		return "", fmt.Errorf("ARI at %s: %v", shown, unwrapURLError(err))
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	switch {
	case res.StatusCode == http.StatusUnauthorized:
		return "", fmt.Errorf("ARI refused the credentials of %q (401 Unauthorized)", user)
	case res.StatusCode != http.StatusOK:
		// Asterisk says why in {"message": ...} (503 "Asterisk not booted").
		var m struct{ Message string }
		if json.Unmarshal(body, &m) == nil && m.Message != "" {
			return "", fmt.Errorf("ARI answered %s: %q", res.Status, m.Message)
		}
		return "", fmt.Errorf("ARI answered %s", res.Status)
	}
	var info struct {
		System struct{ Version string }
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return "", fmt.Errorf("ARI answered with something else than Asterisk's info: %v", err)
	}
	return info.System.Version, nil
}

// ariClient goes straight to ari_url: no proxy from the environment, no
// redirect (Asterisk sends none) to carry the credentials elsewhere.
var ariClient = &http.Client{
	Transport:     &http.Transport{Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// unwrapURLError drops the URL net/http puts in its errors: net/http hides
// the password but the rest is printed by the caller, redacted, once.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactURL hides the userinfo of a URL, parsable or not, for messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		if _, has := u.User.Password(); has {
			return u.Redacted()
		}
		if u.User != nil {
			return u.String()
		}
	}
	// Unparsable: anything between the scheme and the last @ of the
	// authority may be a password.
	rest, pfx := s, ""
	if i := strings.Index(s, "://"); i >= 0 {
		pfx, rest = s[:i+3], s[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		return pfx + "xxxxx" + rest[at:]
	}
	return s
}
