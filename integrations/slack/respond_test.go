package slack

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer collects log output written from the bot's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestResponseURLNeverLogged plants a canary in response_urls whose posts
// fail (nothing listens; endless redirects) and looks for it in the log:
// a response_url lets anyone post as the app, so it is a credential.
func TestResponseURLNeverLogged(t *testing.T) {
	const canary = "CANARY-7f3a9c"
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String() + "/actions/T0/1/" + canary + "?token=" + canary
	closed.Close()
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(loop.Close)
	redirected := loop.URL + "/actions/T0/2/" + canary

	for name, u := range map[string]string{"connection refused": refused, "redirect loop": redirected} {
		t.Run(name, func(t *testing.T) {
			var logs lockedBuffer
			b := &Bot{o: Options{Log: slog.New(slog.NewTextHandler(&logs, nil))}, events: newSeen(10)}
			r := ephemeral("hello")
			b.respond(u, &r)
			b.Wait()
			out := logs.String()
			if !strings.Contains(out, "response_url post failed") {
				t.Fatalf("the failure is not logged at all: %q", out)
			}
			if strings.Contains(out, canary) || strings.Contains(out, "/actions/") {
				t.Fatalf("the response_url reached the log: %s", out)
			}
		})
	}
}
