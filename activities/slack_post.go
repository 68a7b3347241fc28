package activities

import (
	"context"
	"unicode/utf8"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"
)

// SlackActions lists the slack.* actions playbooks call, posting through s
// (nil: specs only).
func SlackActions(s *Slack) []Action {
	return []Action{slackPost(s)}
}

// SlackPostInput is the input of slack.post.
type SlackPostInput struct {
	Text string `json:"text" action:"required"`
	// Channel defaults to the channel the run reports to.
	Channel string `json:"channel,omitempty"`
}

// maxPostText keeps a post within what Slack shows without a "see more"
// wall; Slack itself truncates at 40,000 characters.
const maxPostText = 3000

// ErrSlackNotConfigured is the error type of slack.post run by a worker
// without Slack.
const ErrSlackNotConfigured = "SlackNotConfigured"

func slackPost(s *Slack) Action {
	const name = "slack.post"
	channelOf := func(req Request, in SlackPostInput) (string, error) {
		ch := in.Channel
		if ch == "" {
			ch = req.Channel
		}
		if ch == "" {
			return "", badInput(name, "the run reports to no Slack channel: give `channel`")
		}
		return ch, nil
	}
	return Def[SlackPostInput]{
		Name: name,
		Description: "Post text to the incident's channel (or `channel`). The text is posted as plain " +
			"text: &, < and > are escaped, so data from AWS or an attacker cannot mention @channel or " +
			"forge links. Longer than 3000 characters is cut.",
		Permissions: Permissions{Slack: []string{"chat:write"}},
		PlanFunc: func(_ context.Context, req Request, in SlackPostInput) (Plan, error) {
			ch, err := channelOf(req, in)
			if err != nil {
				return Plan{}, err
			}
			return Plan{Summary: "post to <#" + ch + ">: " + quoteShort(in.Text)}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in SlackPostInput) (Result, error) {
			ch, err := channelOf(req, in)
			if err != nil {
				return Result{}, err
			}
			if s == nil || s.API == nil {
				return Result{}, temporal.NewNonRetryableApplicationError(
					"slack.post: this worker has no Slack bot token", ErrSlackNotConfigured, nil)
			}
			text := in.Text
			if len(text) > maxPostText {
				cut := maxPostText
				for cut > 0 && !utf8.RuneStart(text[cut]) {
					cut--
				}
				text = text[:cut] + "…"
			}
			res, _, err := PostMessageOnce(ctx, s.API, ch, "", req.IdempotencyKey, nil,
				goslack.MsgOptionText(text, true), goslack.MsgOptionDisableLinkUnfurl())
			if err != nil {
				return Result{}, SlackError("post to "+ch, err)
			}
			return Result{Summary: "posted to <#" + ch + ">", Resource: ch,
				Outputs: map[string]any{"channel": res.Channel, "ts": res.TS}}, nil
		},
	}
}
