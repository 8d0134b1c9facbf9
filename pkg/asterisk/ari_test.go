package asterisk

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

// ariServer answers as Asterisk's res_ari does (see testdata/README.md):
// GET /ari/asterisk/info with the user's Basic credentials gets the
// recorded info; wrong credentials get 401 with Asterisk's challenge and
// JSON message.
func ariServer(t *testing.T, user, password string) *httptest.Server {
	t.Helper()
	info, err := os.ReadFile("testdata/ari/info.json")
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Asterisk/22.5.2")
		w.Header().Set("Cache-Control", "no-cache, no-store")
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
			w.Header().Set("Content-type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Authentication required"}`))
			return
		}
		if r.URL.Path != "/ari/asterisk/info" {
			w.Header().Set("Content-type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"Resource not found"}`))
			return
		}
		w.Header().Set("Content-type", "application/json")
		w.Write(info)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestARI(t *testing.T) {
	s := ariServer(t, "monitor", "s3cret")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := ariInfo(ctx, s.URL+"/ari", "monitor", "s3cret")
	if err != nil || v != "GIT-master-cb214713c0M" {
		t.Fatalf("%q %v", v, err)
	}
	_, err = ariInfo(ctx, s.URL+"/ari", "monitor", "wrong")
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") || !strings.Contains(err.Error(), "401") {
		t.Errorf("401: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong") {
		t.Errorf("the password is in %q", err)
	}
}

// A password in ari_url never reaches an error, a log line or an exit
// reason.
func TestARIURLRedacted(t *testing.T) {
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a frozen Asterisk; the client must not wait for it
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer hung.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	u := strings.Replace(hung.URL, "http://", "http://mon:t0psecret@", 1) + "/ari"
	_, err := ariInfo(ctx, u, "mon", "x")
	if err == nil || strings.Contains(err.Error(), "t0psecret") {
		t.Errorf("hung: %v", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	u = strings.Replace(closed.URL, "http://", "http://mon:t0psecret@", 1) + "/ari"
	_, err = ariInfo(context.Background(), u, "mon", "x")
	if err == nil || strings.Contains(err.Error(), "t0psecret") {
		t.Errorf("refused: %v", err)
	}
	// Through the monitor: the error, the log and the exit reason.
	n := newMem(t)
	n.m.running()
	time.Sleep(50 * time.Millisecond)
	st, reason, stderr := run(t, n.a, "monitor", append(n.env, recurring, "OCF_CHECK_LEVEL=10", "OCF_RESKEY_ari_url="+u, "OCF_RESKEY_ari_username=mon")...)
	if st != ocf.Degraded || !strings.Contains(reason, "mon:xxxxx@") || strings.Contains(stderr, "t0psecret") {
		t.Errorf("%d %q\n%s", st, reason, stderr)
	}
	for _, bad := range []string{"ftp://mon:t0psecret@pbx/ari", "http://mon:t0psecret@pbx:port/ari", "http://mon:t0psecret@/ari"} {
		_, errs := ocf.Prepare(Agent(), "monitor", []string{"OCF_RESKEY_ari_url=" + bad, "OCF_RESKEY_ari_username=mon"})
		if len(errs) == 0 {
			t.Errorf("%s accepted", bad)
		}
		for _, err := range errs {
			if strings.Contains(err.Error(), "t0psecret") {
				t.Errorf("the password is in %q", err)
			}
		}
	}
}
