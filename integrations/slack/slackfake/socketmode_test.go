package slackfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
)

// runSocketClient runs a slack-go Socket Mode client against the fake that
// acks every request the way a bot would, and returns the events it acked.
func runSocketClient(t *testing.T, fake *slackfake.Server) <-chan socketmode.Event {
	t.Helper()
	api := slack.New(slackfake.DefaultBotToken,
		slack.OptionAPIURL(fake.URL()),
		slack.OptionAppLevelToken(slackfake.DefaultAppToken))
	client := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan socketmode.Event, 16)
	runDone := make(chan error, 1)
	go func() { runDone <- client.RunContext(ctx) }()
	go func() {
		for {
			var evt socketmode.Event
			select {
			case <-ctx.Done():
				return
			case evt = <-client.Events:
			}
			var payload any
			switch evt.Type {
			case socketmode.EventTypeSlashCommand:
				cmd := evt.Data.(slack.SlashCommand)
				payload = map[string]string{"response_type": "ephemeral", "text": "ack " + cmd.Text}
			case socketmode.EventTypeInteractive:
				payload = map[string]string{"response_action": "clear"}
			case socketmode.EventTypeEventsAPI:
			default:
				continue
			}
			if err := client.AckCtx(ctx, evt.Request.EnvelopeID, payload); err != nil {
				return
			}
			select {
			case got <- evt:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("socket mode client: %v", err)
		}
	})
	return got
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSocketModeRoundTripAndReconnect(t *testing.T) {
	fake, _ := newFake(t)
	got := runSocketClient(t, fake)
	ctx := testContext(t)
	if err := fake.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}

	ack, err := fake.SendSlashCommand(ctx, slack.SlashCommand{
		Command: "/incident", Text: "declare sev1 checkout down", UserID: "U1", ChannelID: "C1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(ack) != `{"response_type":"ephemeral","text":"ack declare sev1 checkout down"}` {
		t.Errorf("ack = %s", ack)
	}
	evt := <-got
	cmd := evt.Data.(slack.SlashCommand)
	if cmd.Command != "/incident" || cmd.UserID != "U1" || cmd.TeamID != slackfake.DefaultTeamID || cmd.TriggerID == "" {
		t.Errorf("client saw %+v", cmd)
	}
	if !evt.Request.AcceptsResponsePayload || evt.Request.Type != "slash_commands" {
		t.Errorf("envelope = %+v", evt.Request)
	}
	// The filled-in response_url records what the bot sends to it.
	if fake.Responses(cmd.ResponseURL) != nil {
		t.Error("fresh response URL has responses")
	}
	api := slack.New(slackfake.DefaultBotToken, slack.OptionAPIURL(fake.URL()))
	if _, _, err := api.PostMessage("", slack.MsgOptionText("declared", false), slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeInChannel)); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Responses(cmd.ResponseURL)); n != 1 {
		t.Errorf("%d responses, want 1", n)
	}

	ack, err = fake.SendInteraction(ctx, slack.InteractionCallback{
		Type: slack.InteractionTypeBlockActions, User: slack.User{ID: "U2"},
		ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{ActionID: "approve", Value: "step-isolate"}}},
	})
	if err != nil || string(ack) != `{"response_action":"clear"}` {
		t.Fatalf("interaction ack = %s, %v", ack, err)
	}
	evt = <-got
	cb := evt.Data.(slack.InteractionCallback)
	if cb.User.ID != "U2" || len(cb.ActionCallback.BlockActions) != 1 || cb.ActionCallback.BlockActions[0].ActionID != "approve" {
		t.Errorf("client saw %+v", cb)
	}

	event := json.RawMessage(`{"type":"event_callback","team_id":"T0TEST001","event_id":"Ev1","event":{"type":"app_mention","user":"U1","text":"<@U0BOT0001> status","channel":"C1","ts":"1700000000.000100"}}`)
	if ack, err = fake.SendEvent(ctx, event); err != nil || ack != nil {
		t.Fatalf("event ack = %s, %v", ack, err)
	}
	evt = <-got
	if inner := evt.Data.(slackevents.EventsAPIEvent).InnerEvent; inner.Type != "app_mention" || evt.Request.AcceptsResponsePayload {
		t.Errorf("client saw %+v (envelope %+v)", inner, evt.Request)
	}

	// A dropped connection is reopened through apps.connections.open.
	if n := fake.Connections(); n != 1 {
		t.Fatalf("Connections() = %d before the drop", n)
	}
	fake.DisconnectAll()
	if err := fake.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if n := fake.Connections(); n != 2 {
		t.Errorf("Connections() = %d after reconnect, want 2", n)
	}
	if n := fake.Calls("apps.connections.open"); n != 2 {
		t.Errorf("apps.connections.open called %d times, want 2", n)
	}
	if ack, err := fake.SendSlashCommand(ctx, slack.SlashCommand{Command: "/incident", Text: "status"}); err != nil || string(ack) != `{"response_type":"ephemeral","text":"ack status"}` {
		t.Errorf("after reconnect: %s, %v", ack, err)
	}

	// Slack's own "disconnect" request makes the client reconnect too.
	fake.SendDisconnect("refresh_requested")
	if err := fake.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if n := fake.Connections(); n != 3 {
		t.Errorf("Connections() = %d after refresh, want 3", n)
	}
	if _, err := fake.SendSlashCommand(ctx, slack.SlashCommand{Command: "/incident", Text: "status"}); err != nil {
		t.Errorf("after refresh: %v", err)
	}
}

func TestSendWaitsForAClient(t *testing.T) {
	fake, _ := newFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := fake.SendSlashCommand(ctx, slack.SlashCommand{Command: "/incident"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	if err := fake.WaitConnected(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitConnected = %v, want a deadline error", err)
	}
}

func TestConnectionsOpenNeedsAppToken(t *testing.T) {
	fake, _ := newFake(t)
	for token, code := range map[string]string{
		slackfake.DefaultBotToken: "not_allowed_token_type",
		"xapp-wrong":              "invalid_auth",
		"":                        "not_authed",
	} {
		api := slack.New(slackfake.DefaultBotToken, slack.OptionAPIURL(fake.URL()), slack.OptionAppLevelToken(token))
		_, _, err := api.StartSocketModeContext(context.Background())
		wantSlackError(t, err, code)
	}
	api := slack.New(slackfake.DefaultBotToken, slack.OptionAPIURL(fake.URL()), slack.OptionAppLevelToken(slackfake.DefaultAppToken))
	_, wsURL, err := api.StartSocketModeContext(context.Background())
	if err != nil || len(wsURL) < 5 || wsURL[:5] != "ws://" {
		t.Errorf("url = %q, %v", wsURL, err)
	}
}
