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
// reconnects when the connection drops. It returns when ctx ends.
func (b *Bot) RunSocketMode(ctx context.Context, api *goslack.Client) error {
	sm := socketmode.New(api)
	errs := make(chan error, 1)
	go func() { errs <- sm.RunContext(ctx) }()
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
			return fmt.Errorf("socket mode: %w", err)
		case evt, ok := <-sm.Events:
			if !ok {
				return nil
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
	case socketmode.EventTypeConnected:
		b.o.Log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		b.o.Log.Warn("slack socket mode connection error; reconnecting")
	}
}
