package test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/test/harness"
)

// Tokens the fake does not know, planted as canaries.
const (
	wrongBotToken = "xoxb-CANARY-wrong-4e1a"
	wrongAppToken = "xapp-CANARY-wrong-8c2f"
)

// readyz returns the status and body of the process's /readyz.
func readyz(t *testing.T, d *harness.Dev) (int, string) {
	t.Helper()
	resp, err := http.Get(d.URL("/readyz"))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestSlackRejectedTokenStopsTheStart: a token Slack says is invalid
// stops firebreak dev with exit 2 and Slack's reason, like bad config,
// without printing the token.
func TestSlackRejectedTokenStopsTheStart(t *testing.T) {
	for _, tc := range []struct {
		name, bot, app, want string
	}{
		{"bot token", wrongBotToken, slackfake.DefaultAppToken, "Slack rejected SLACK_BOT_TOKEN: invalid_auth"},
		{"app token", botToken, wrongAppToken, "Slack rejected SLACK_APP_TOKEN: invalid_auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newSlackFake(t, slackfake.WithBotTokens(botToken))
			d, err := harness.StartDev(bin, filepath.Join(t.TempDir(), "data"),
				"SLACK_BOT_TOKEN="+tc.bot, "SLACK_APP_TOKEN="+tc.app, "SLACK_SIGNING_SECRET="+signingSecret, "SLACK_API_URL="+fake.URL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = d.Stop(10 * time.Second) })
			select {
			case <-d.Done():
			case <-time.After(60 * time.Second):
				t.Fatalf("still running with a rejected token:\n%s", d.Output())
			}
			out := d.Output()
			if d.ExitCode() != 2 || !strings.Contains(out, "firebreak: "+tc.want) {
				t.Fatalf("exit %d, want 2 and %q:\n%s", d.ExitCode(), tc.want, out)
			}
			for _, c := range []string{tc.bot, tc.app, signingSecret, "CANARY"} {
				if strings.Contains(out, c) {
					t.Errorf("output carries the secret %q:\n%s", c, out)
				}
			}
		})
	}
}

// TestSlackReadyzReportsSlack: /readyz is 503 with the reason while Slack
// cannot be reached (auth.test failing, the Socket Mode connection down)
// and 200 once it can; the process stays up and logs why.
func TestSlackReadyzReportsSlack(t *testing.T) {
	fake := newSlackFake(t, slackfake.WithBotTokens(botToken))
	fake.InjectError("auth.test", "service_unavailable", 1000)
	d, err := harness.StartDev(bin, filepath.Join(t.TempDir(), "data"), "FIREBREAK_PLAYBOOKS=testdata/playbooks",
		"SLACK_BOT_TOKEN="+botToken, "SLACK_APP_TOKEN="+slackfake.DefaultAppToken, "SLACK_SIGNING_SECRET="+signingSecret, "SLACK_API_URL="+fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(10 * time.Second) })
	waitReadyz := func(code int, want ...string) {
		t.Helper()
		var got int
		var body string
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, body = readyz(t, d)
			ok := got == code
			for _, w := range want {
				ok = ok && strings.Contains(body, w)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz: %d %q, want %d with %q", got, body, code, want)
			}
			<-time.After(50 * time.Millisecond)
		}
	}

	waitReadyz(http.StatusServiceUnavailable, "slack: auth.test: service_unavailable")
	fake.InjectError("auth.test", "service_unavailable", 0)
	waitReadyz(http.StatusOK, "ready")

	// The WebSocket drops and Slack will not hand out a new one for now.
	fake.InjectError("apps.connections.open", "internal_error", 1000)
	fake.DisconnectAll()
	waitReadyz(http.StatusServiceUnavailable, "slack socket mode: ", "internal_error")
	fake.InjectError("apps.connections.open", "internal_error", 0)
	waitReadyz(http.StatusOK, "ready")

	if err := d.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	out := d.Output()
	for _, want := range []string{"slack auth.test failed; retrying", "service_unavailable", "slack socket mode cannot connect; retrying", "internal_error"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	for _, c := range []string{botToken, slackfake.DefaultAppToken, signingSecret} {
		if strings.Contains(out, c) {
			t.Errorf("the log carries the secret %q", c)
		}
	}
}
