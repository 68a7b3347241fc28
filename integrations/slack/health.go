package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"
)

// Environment variables a TokenError names.
const (
	BotTokenEnv = "SLACK_BOT_TOKEN"
	AppTokenEnv = "SLACK_APP_TOKEN"
)

// rejectedTokenCodes are Slack's answers about a token that no retry can
// change: the token is wrong, of the wrong kind, revoked or expired, or
// its workspace or user is gone.
var rejectedTokenCodes = []string{"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}

// TokenError is Slack refusing a configured token. It names the variable
// and Slack's error code, never the token.
type TokenError struct {
	Env  string // BotTokenEnv or AppTokenEnv
	Code string // Slack's error code, e.g. invalid_auth
}

func (e *TokenError) Error() string {
	msg := fmt.Sprintf("Slack rejected %s: %s", e.Env, e.Code)
	if e.Code == "not_allowed_token_type" {
		switch e.Env {
		case BotTokenEnv:
			msg += " (want the Bot User OAuth Token, xoxb-…)"
		case AppTokenEnv:
			msg += " (want an app-level token, xapp-…, with the connections:write scope)"
		}
	}
	return msg
}

// tokenRejected returns the TokenError err carries for env, or nil when
// err is anything else (a network error, a rate limit, a Slack outage).
func tokenRejected(env string, err error) *TokenError {
	var se goslack.SlackErrorResponse
	if !errors.As(err, &se) || !slices.Contains(rejectedTokenCodes, se.Err) {
		return nil
	}
	return &TokenError{Env: env, Code: se.Err}
}

// Health is Slack's part of readiness: whether Slack accepted the bot
// token (auth.test) and, in Socket Mode, whether the WebSocket is up.
// The zero value is unusable; use NewHealth.
type Health struct {
	mu   sync.Mutex
	auth error // nil once auth.test succeeded

	socket       bool   // Socket Mode in use
	socketState  string // connecting, connected, disconnected
	socketReason string // why it is not connected, if known
	socketErr    error  // set when Socket Mode stopped for good
	settled      chan struct{}
	settleOnce   sync.Once
}

// NewHealth returns a Health that is not ready until auth.test succeeds.
func NewHealth() *Health {
	return &Health{auth: errors.New("auth.test has not answered yet"), settled: make(chan struct{})}
}

// Ready returns why Slack is not ready, or nil.
func (h *Health) Ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	if h.auth != nil {
		errs = append(errs, fmt.Errorf("slack: %w", h.auth))
	}
	if h.socket && h.socketState != "connected" {
		msg := "slack socket mode: " + h.socketState
		if h.socketReason != "" {
			msg += ": " + h.socketReason
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

// Authenticate asks Slack whom the bot token belongs to (auth.test). A
// token Slack rejects is returned as a *TokenError: nothing will work
// until the configuration changes. Any other failure (Slack unreachable,
// an outage) is logged and leaves Slack not ready while a background
// loop asks again with backoff until it succeeds or ctx ends.
func (h *Health) Authenticate(ctx context.Context, api *goslack.Client, log *slog.Logger) error {
	err := h.authTest(ctx, api, log)
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*TokenError](err); ok {
		return err
	}
	go h.retryAuth(ctx, api, log, err)
	return nil
}

func (h *Health) retryAuth(ctx context.Context, api *goslack.Client, log *slog.Logger, err error) {
	delay := time.Second
	for {
		log.Warn("slack auth.test failed; retrying", "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		err = h.authTest(ctx, api, log)
		if err == nil || ctx.Err() != nil {
			return
		}
		if _, ok := errors.AsType[*TokenError](err); ok {
			log.Error("slack is unusable until the token is fixed", "err", err)
			return
		}
		delay = min(2*delay, time.Minute)
	}
}

// authTest calls auth.test once and records the outcome.
func (h *Health) authTest(ctx context.Context, api *goslack.Client, log *slog.Logger) error {
	// slack-go's default HTTP client has no timeout: bound the call so
	// a black-holed network cannot hold the start.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := api.AuthTestContext(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		if te := tokenRejected(BotTokenEnv, err); te != nil {
			h.auth = te
			return te
		}
		h.auth = fmt.Errorf("auth.test: %w", err)
		return h.auth
	}
	h.auth = nil
	log.Info("slack bot token accepted", "team", resp.Team, "team_id", resp.TeamID, "bot_user", resp.UserID)
	return nil
}

// ExpectSocketMode makes Ready report the Socket Mode connection, as
// "connecting" until it is up. RunSocketMode calls it too; call it
// before starting that goroutine so no probe sees Slack ready before.
func (h *Health) ExpectSocketMode() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.socket {
		h.socket, h.socketState = true, "connecting"
	}
}

func (h *Health) socketConnecting() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.socketState == "connected" && h.socketReason == "" {
		h.socketReason = "the connection dropped"
	}
	h.socketState = "connecting"
}

func (h *Health) socketConnected() {
	h.mu.Lock()
	h.socketState, h.socketReason = "connected", ""
	h.mu.Unlock()
	h.settle()
}

// socketFailed records a failed connection attempt that will be retried.
func (h *Health) socketFailed(reason string) {
	h.mu.Lock()
	h.socketState, h.socketReason = "disconnected", reason
	h.mu.Unlock()
	h.settle()
}

// socketLost records why a live connection broke.
func (h *Health) socketLost(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.socketReason = reason
}

// socketStopped records that Socket Mode gave up for good.
func (h *Health) socketStopped(err error) {
	h.mu.Lock()
	h.socketState, h.socketReason, h.socketErr = "disconnected", err.Error(), err
	h.mu.Unlock()
	h.settle()
}

func (h *Health) settle() { h.settleOnce.Do(func() { close(h.settled) }) }

// SocketSettled is closed once the first Socket Mode connection attempt
// has an outcome: connected, failed (and being retried), or stopped.
func (h *Health) SocketSettled() <-chan struct{} { return h.settled }

// SocketErr is why Socket Mode stopped for good (a *TokenError when Slack
// rejected the app-level token), or nil while it runs.
func (h *Health) SocketErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.socketErr
}
