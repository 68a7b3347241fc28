package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesTheUIAndItsSettings(t *testing.T) {
	// Nothing listens on this frontend: the page and the settings do not
	// need it (the gRPC connection is made on first use).
	h, err := Handler(Options{TemporalAddress: "127.0.0.1:1", Namespace: "incidents"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	for _, tc := range []struct{ path, contentType, want string }{
		{"/", "text/html", "<html"},
		{"/namespaces/incidents/workflows", "text/html", "<html"}, // the UI routes client-side
		{"/api/v1/settings", "application/json", `"DefaultNamespace":"incidents"`},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s: %d %s, want %s containing %s:\n%.300s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contentType, tc.want, body)
		}
	}
}

func TestHandlerNeedsAnAddress(t *testing.T) {
	if _, err := Handler(Options{}); err == nil || !strings.Contains(err.Error(), "web ui: temporal frontend gRPC address is not set") {
		t.Fatalf("Handler without an address: %v", err)
	}
}
