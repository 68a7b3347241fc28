package activities_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
)

func slackPostAction(t *testing.T, s *activities.Slack) activities.Action {
	t.Helper()
	reg, err := activities.NewRegistry(activities.SlackActions(s)...)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := reg.Get("slack.post")
	if !ok {
		t.Fatal("slack.post not registered")
	}
	return a
}

// slack.post posts once per step even when retried, to the run's channel, with text from AWS
// or an attacker escaped so it cannot ping @channel or forge a link.
func TestSlackPostEscapesAndPostsOnce(t *testing.T) {
	fake := slackfake.New(slackfake.WithBotTokens(token))
	t.Cleanup(fake.Close)
	ch := fake.AddChannel("", "inc-2026-0042-db", slackfake.Members(fake.BotUserID()))
	a := slackPostAction(t, &activities.Slack{API: goslack.New(token, goslack.OptionAPIURL(fake.URL()))})
	req := activities.Request{Channel: ch, IdempotencyKey: "wf/run/tell", StepID: "tell",
		With: map[string]any{"text": "blast radius: 3 IPs, agent <!channel> <http://evil|click>"}}
	for range 2 { // the second is a retry of the same step
		if _, err := a.Execute(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	msgs := fake.Messages(ch)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	if got := msgs[0].Text; strings.ContainsAny(got, "<>") || !strings.Contains(got, "&lt;!channel&gt;") {
		t.Errorf("posted %q: not escaped", got)
	}
}

func TestSlackPostErrors(t *testing.T) {
	a := slackPostAction(t, nil)
	_, err := a.Execute(context.Background(), activities.Request{With: map[string]any{"text": "x"}})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrBadInput || !strings.Contains(err.Error(), "give `channel`") {
		t.Errorf("no channel: %v", err)
	}
	_, err = a.Execute(context.Background(), activities.Request{Channel: "C1", With: map[string]any{"text": "x"}})
	if !errors.As(err, &app) || app.Type() != activities.ErrSlackNotConfigured || !app.NonRetryable() {
		t.Errorf("no Slack: %v", err)
	}
}
