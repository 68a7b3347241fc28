package slack

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/playbooks"
)

// Planted canaries: no log line or error may carry a token.
const (
	canaryBotToken = "xoxb-CANARY-health-71c3"
	canaryAppToken = "xapp-CANARY-health-0d4e"
)

// logBuffer is a log destination tests read while the code writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// eventually waits for cond, failing the test after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func noCanaries(t *testing.T, where string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, c := range []string{canaryBotToken, canaryAppToken, "CANARY"} {
			if strings.Contains(s, c) {
				t.Errorf("%s carries the token canary %q: %s", where, c, s)
			}
		}
	}
}

func TestAuthenticateRejectedBotToken(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	cases := []struct {
		name, token, code string
		prepare           func()
	}{
		{"wrong token", canaryBotToken, "invalid_auth", func() {}},
		{"app token as bot token", slackfake.DefaultAppToken, "not_allowed_token_type", func() {}},
		{"revoked", slackfake.DefaultBotToken, "token_revoked", func() { fake.RevokeToken(slackfake.DefaultBotToken) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.prepare()
			var logs logBuffer
			h := NewHealth()
			err := h.Authenticate(context.Background(), goslack.New(tc.token, goslack.OptionAPIURL(fake.URL())), logs.logger())
			te, ok := errors.AsType[*TokenError](err)
			if !ok || te.Env != BotTokenEnv || te.Code != tc.code {
				t.Fatalf("Authenticate = %v, want a TokenError for %s with %s", err, BotTokenEnv, tc.code)
			}
			if want := "Slack rejected SLACK_BOT_TOKEN: " + tc.code; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want it to start with %q", err, want)
			}
			ready := h.Ready()
			if ready == nil || !strings.Contains(ready.Error(), "Slack rejected SLACK_BOT_TOKEN: "+tc.code) {
				t.Errorf("Ready() = %v, want the rejection", ready)
			}
			noCanaries(t, "error and log", err.Error(), ready.Error(), logs.String())
		})
	}
}

// TestAuthenticateRetriesWhileSlackFails: an error that is not about the
// token leaves Slack not ready, with the reason, until auth.test passes.
func TestAuthenticateRetriesWhileSlackFails(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.InjectError("auth.test", "internal_error", 1000)
	var logs logBuffer
	h := NewHealth()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := h.Authenticate(ctx, goslack.New(slackfake.DefaultBotToken, goslack.OptionAPIURL(fake.URL())), logs.logger()); err != nil {
		t.Fatalf("Authenticate with Slack failing = %v, want nil (retried in the background)", err)
	}
	if err := h.Ready(); err == nil || !strings.Contains(err.Error(), "slack: auth.test: internal_error") {
		t.Fatalf("Ready() = %v, want the auth.test failure", err)
	}
	eventually(t, "a logged retry", func() bool { return strings.Contains(logs.String(), "retrying") })
	fake.InjectError("auth.test", "internal_error", 0)
	eventually(t, "Slack ready after auth.test passes", func() bool { return h.Ready() == nil })
	if !strings.Contains(logs.String(), "internal_error") {
		t.Errorf("the log does not say why auth.test failed:\n%s", logs.String())
	}
}

// startSocketBot runs a bot in Socket Mode against fake with appToken and
// returns its Health, its log and the channel RunSocketMode returns on.
func startSocketBot(t *testing.T, fake *slackfake.Server, appToken string) (*Health, *logBuffer, <-chan error) {
	t.Helper()
	api := goslack.New(slackfake.DefaultBotToken, goslack.OptionAPIURL(fake.URL()), goslack.OptionAppLevelToken(appToken))
	logs := &logBuffer{}
	h := NewHealth()
	if err := h.Authenticate(context.Background(), api, logs.logger()); err != nil {
		t.Fatal(err)
	}
	bot, err := NewBot(Options{
		API: api, Temporal: &stuckTemporal{}, Groups: &Groups{API: api}, Health: h, Log: logs.logger(),
		Playbooks: func() ([]*playbooks.Playbook, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h.ExpectSocketMode()
	go func() { done <- bot.RunSocketMode(ctx, api) }()
	t.Cleanup(func() {
		cancel()
		bot.Wait()
	})
	return h, logs, done
}

func TestSocketModeRejectedAppToken(t *testing.T) {
	for _, tc := range []struct{ name, token, code string }{
		{"wrong token", canaryAppToken, "invalid_auth"},
		// slack-go retries this one forever on its own.
		{"bot token as app token", slackfake.DefaultBotToken, "not_allowed_token_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := slackfake.New()
			t.Cleanup(fake.Close)
			h, logs, done := startSocketBot(t, fake, tc.token)
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("RunSocketMode keeps going with a rejected app token")
			}
			te, ok := errors.AsType[*TokenError](err)
			if !ok || te.Env != AppTokenEnv || te.Code != tc.code {
				t.Fatalf("RunSocketMode = %v, want a TokenError for %s with %s", err, AppTokenEnv, tc.code)
			}
			if n := fake.Calls("apps.connections.open"); n != 1 {
				t.Errorf("apps.connections.open called %d times, want 1: a rejected token is not retried", n)
			}
			ready := h.Ready()
			if ready == nil || !strings.Contains(ready.Error(), "slack socket mode: disconnected: Slack rejected SLACK_APP_TOKEN: "+tc.code) {
				t.Errorf("Ready() = %v", ready)
			}
			if !errors.Is(h.SocketErr(), err) {
				t.Errorf("SocketErr() = %v, want %v", h.SocketErr(), err)
			}
			noCanaries(t, "error and log", err.Error(), logs.String())
		})
	}
}

// TestSocketModeHealthFollowsTheConnection: Health is ready only while
// the WebSocket is up, says why when it is not, and a token revoked while
// running stops Socket Mode.
func TestSocketModeHealthFollowsTheConnection(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	h, logs, done := startSocketBot(t, fake, slackfake.DefaultAppToken)
	select {
	case <-h.SocketSettled():
	case <-time.After(30 * time.Second):
		t.Fatal("the first connection attempt never settled")
	}
	if err := h.Ready(); err != nil {
		t.Fatalf("Ready() after connecting = %v", err)
	}

	// Slack fails to hand out a connection while the old one is gone.
	fake.InjectError("apps.connections.open", "internal_error", 1000)
	fake.DisconnectAll()
	eventually(t, "not ready with the reason", func() bool {
		err := h.Ready()
		return err != nil && strings.Contains(err.Error(), "slack socket mode: ") && strings.Contains(err.Error(), "internal_error")
	})
	eventually(t, "the reason logged", func() bool {
		return strings.Contains(logs.String(), "slack socket mode cannot connect; retrying") && strings.Contains(logs.String(), "err=internal_error")
	})
	fake.InjectError("apps.connections.open", "internal_error", 0)
	eventually(t, "ready after reconnecting", func() bool { return h.Ready() == nil })

	fake.RevokeToken(slackfake.DefaultAppToken)
	fake.DisconnectAll()
	select {
	case err := <-done:
		if te, ok := errors.AsType[*TokenError](err); !ok || te.Code != "token_revoked" {
			t.Fatalf("RunSocketMode = %v, want token_revoked", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Socket Mode keeps going with a revoked app token")
	}
	if err := h.Ready(); err == nil || !strings.Contains(err.Error(), "disconnected: Slack rejected SLACK_APP_TOKEN: token_revoked") {
		t.Fatalf("Ready() = %v", err)
	}
}
