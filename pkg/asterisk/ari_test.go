package asterisk

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

// recordedHTTP reads an answer of Asterisk's HTTP server recorded raw in
// testdata/ari (see testdata/README.md).
func recordedHTTP(t *testing.T, name string) (int, http.Header, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata/ari", name))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, body
}

// ariServer replays Asterisk's recorded answers: GET /ari/asterisk/info
// with the user's Basic credentials gets info.http, other credentials
// get 401.http (the challenge and JSON message), and while booting is
// set, 503.http ("Asterisk not booted").
func ariServer(t *testing.T, user, password string, booting *atomic.Bool) *httptest.Server {
	t.Helper()
	type answer struct {
		code int
		h    http.Header
		body []byte
	}
	answers := map[string]answer{}
	for _, name := range []string{"info.http", "401.http", "503.http"} {
		code, h, body := recordedHTTP(t, name)
		answers[name] = answer{code, h, body}
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "info.http"
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			name = "401.http"
		} else if booting != nil && booting.Load() {
			name = "503.http"
		} else if r.URL.Path != "/ari/asterisk/info" {
			t.Errorf("ARI asked for %s", r.URL.Path)
		}
		a := answers[name]
		for k, v := range a.h {
			if k != "Date" && k != "Content-Length" && k != "Connection" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(a.code)
		w.Write(a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestARI(t *testing.T) {
	var booting atomic.Bool
	s := ariServer(t, "monitor", "s3cret", &booting)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := ariInfo(ctx, s.URL+"/ari", "monitor", "s3cret")
	if err != nil || v != "22.10.1+dfsg+~cs6.17.60671434-1" {
		t.Fatalf("%q %v", v, err)
	}
	booting.Store(true)
	_, err = ariInfo(ctx, s.URL+"/ari", "monitor", "s3cret")
	if err == nil || !strings.Contains(err.Error(), `503 Service Unavailable: "Asterisk not booted"`) {
		t.Errorf("503: %v", err)
	}
	booting.Store(false)
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
