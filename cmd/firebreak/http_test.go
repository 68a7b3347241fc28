package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/integrations/config"
)

// TestHTTPCutsOffSlowBodies sends a request's headers, then trickles its
// body a byte at a time: the server must close the connection instead of
// waiting for the body forever.
func TestHTTPCutsOffSlowBodies(t *testing.T) {
	cfg := config.Defaults()
	s, err := newStack(&cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.listenHTTP("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s.serveHTTP()
	t.Cleanup(func() { _ = s.stop() })

	conn, err := net.Dial("tcp", s.httpLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprint(conn, "POST /slack/commands HTTP/1.1\r\nHost: firebreak\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns once the server closes
		close(closed)
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(30 * time.Second)
	for {
		select {
		case <-closed:
			return
		case <-tick.C:
			if _, err := conn.Write([]byte("a")); err != nil {
				return // reset by the server
			}
		case <-giveUp:
			t.Fatal("the server still holds a connection whose body trickles in after 30s")
		}
	}
}
