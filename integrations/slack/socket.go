package slack

import (
	"context"
	"errors"
	"fmt"

	goslack "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives Slack's requests over a WebSocket the bot opens
// with the app-level token, so nothing needs to reach Firebreak from the
// internet. The same handlers answer as over HTTP; slack-go's client
// reconnects, with backoff, when the connection drops or cannot be
// opened, and the bot's Health says which. It returns nil when ctx ends,
// and a *TokenError when Slack rejects the app-level token: retrying
// cannot help then.
func (b *Bot) RunSocketMode(ctx context.Context, api *goslack.Client) error {
	h := b.o.Health
	h.ExpectSocketMode()
	// The client runs under its own context, so a rejected token can
	// stop its reconnect loop (slack-go retries some rejections forever).
	smCtx, stop := context.WithCancel(ctx)
	defer stop()
	sm := socketmode.New(api)
	errs := make(chan error, 1)
	go func() { errs <- sm.RunContext(smCtx) }()
	// Each envelope is handled on its own, so one slow Temporal call
	// does not hold the others past Slack's 3 seconds; the semaphore
	// bounds how many run at once.
	slots := make(chan struct{}, socketConcurrency)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			if te := tokenRejected(AppTokenEnv, err); te != nil {
				err = te
			} else {
				err = fmt.Errorf("socket mode: %w", err)
			}
			h.socketStopped(err)
			return err
		case evt, ok := <-sm.Events:
			if !ok {
				return nil
			}
			// Connection events are handled here, in order, so Health
			// never shows an older state over a newer one.
			if done, err := b.connectionEvent(evt); done {
				stop()
				h.socketStopped(err)
				return err
			}
			if !isRequest(evt.Type) {
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			// Shutdown cancels ctx and then waits for the handlers (Wait);
			// none starts after ctx has ended.
			if ctx.Err() != nil {
				return nil
			}
			b.background.Add(1)
			go func() {
				defer func() { <-slots }()
				defer b.background.Done()
				b.handleSocketEvent(ctx, sm, evt)
			}()
		}
	}
}

// connectionEvent records a Socket Mode connection event in Health and
// the log, and reports whether Socket Mode must stop (with the reason).
func (b *Bot) connectionEvent(evt socketmode.Event) (stop bool, err error) {
	h := b.o.Health
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		h.socketConnecting()
		if c, ok := evt.Data.(*goslack.ConnectingEvent); ok {
			b.o.Log.Debug("slack socket mode connecting", "attempt", c.Attempt)
		}
	case socketmode.EventTypeConnected:
		h.socketConnected()
		b.o.Log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		ce, ok := evt.Data.(*goslack.ConnectionErrorEvent)
		if !ok {
			return false, nil
		}
		if te := tokenRejected(AppTokenEnv, ce.ErrorObj); te != nil {
			return true, te
		}
		h.socketFailed(ce.ErrorObj.Error())
		b.o.Log.Warn("slack socket mode cannot connect; retrying", "err", ce.ErrorObj, "attempt", ce.Attempt, "retry_in", ce.Backoff)
	case socketmode.EventTypeInvalidAuth:
		// apps.connections.open answered 404: slack-go gives up next.
		return true, &TokenError{Env: AppTokenEnv, Code: "invalid_auth"}
	case socketmode.EventTypeIncomingError:
		// A read error: the connection broke (slack-go reconnects) or a
		// message was malformed (it carries on); either way, say why.
		if ie, ok := evt.Data.(*goslack.IncomingEventError); ok {
			h.socketLost(ie.ErrorObj.Error())
			b.o.Log.Warn("slack socket mode read failed", "err", ie.ErrorObj)
		}
	case socketmode.EventTypeDisconnect:
		b.o.Log.Info("slack asked socket mode to reconnect")
	}
	return false, nil
}

// isRequest reports whether a Socket Mode event carries a request from
// Slack that the bot answers.
func isRequest(t socketmode.EventType) bool {
	switch t {
	case socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive, socketmode.EventTypeEventsAPI:
		return true
	}
	return false
}

// socketConcurrency is how many Socket Mode envelopes are handled at once.
const socketConcurrency = 32

func (b *Bot) handleSocketEvent(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(goslack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		resp := b.HandleCommand(ctx, sc)
		_ = sm.AckCtx(ctx, evt.Request.EnvelopeID, resp)
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(goslack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		resp := b.HandleInteraction(ctx, cb)
		_ = sm.AckCtx(ctx, evt.Request.EnvelopeID, nil)
		b.respond(cb.ResponseURL, resp)
	case socketmode.EventTypeEventsAPI:
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok || evt.Request == nil {
			return
		}
		_ = sm.AckCtx(ctx, evt.Request.EnvelopeID, nil)
		var id string
		if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
			id = cb.EventID
		}
		b.HandleEvent(ev, id)
	}
}
