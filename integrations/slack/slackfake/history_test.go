package slackfake_test

import (
	"testing"

	"github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
)

func TestMessageMetadataAndHistory(t *testing.T) {
	fake, api := newFake(t)
	ch := createChannel(t, api, "inc-9")
	md := slack.SlackMetadata{EventType: "firebreak", EventPayload: map[string]any{"idempotency_key": "k1"}}
	_, first, err := api.PostMessage(ch, slack.MsgOptionText("first", false), slack.MsgOptionMetadata(md))
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := api.PostMessage(ch, slack.MsgOptionText("second", false))
	if err != nil {
		t.Fatal(err)
	}
	_, reply, err := api.PostMessage(ch, slack.MsgOptionText("in thread", false), slack.MsgOptionTS(first),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "firebreak", EventPayload: map[string]any{"idempotency_key": "k2"}}))
	if err != nil {
		t.Fatal(err)
	}

	// History: top-level messages, newest first; metadata only when asked.
	h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 2 || h.Messages[0].Timestamp != second || h.Messages[1].Timestamp != first {
		t.Fatalf("history %+v", h.Messages)
	}
	if got := h.Messages[1].Metadata; got.EventType != "firebreak" || got.EventPayload["idempotency_key"] != "k1" {
		t.Fatalf("metadata %+v", got)
	}
	plain, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch})
	if err != nil || plain.Messages[1].Metadata.EventType != "" {
		t.Fatalf("metadata without include_all_metadata: %+v %v", plain.Messages, err)
	}
	// Paging and the time window.
	page, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, Limit: 1})
	if err != nil || len(page.Messages) != 1 || !page.HasMore || page.ResponseMetaData.NextCursor == "" {
		t.Fatalf("page %+v %v", page, err)
	}
	next, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, Limit: 1, Cursor: page.ResponseMetaData.NextCursor})
	if err != nil || len(next.Messages) != 1 || next.Messages[0].Timestamp != first || next.HasMore {
		t.Fatalf("next page %+v %v", next, err)
	}
	newer, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, Oldest: first})
	if err != nil || len(newer.Messages) != 1 || newer.Messages[0].Timestamp != second {
		t.Fatalf("oldest=%s: %+v %v", first, newer.Messages, err)
	}

	// Replies: the thread, parent first, metadata only when asked.
	msgs, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: first, IncludeAllMetadata: true})
	if err != nil || len(msgs) != 2 || msgs[0].Timestamp != first || msgs[1].Timestamp != reply || msgs[1].Metadata.EventPayload["idempotency_key"] != "k2" {
		t.Fatalf("replies %+v %v", msgs, err)
	}
	_, _, _, err = api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: "1.000001"})
	wantSlackError(t, err, "thread_not_found")

	// chat.update can set metadata.
	if _, _, _, err := api.UpdateMessage(ch, second, slack.MsgOptionText("second, edited", false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "firebreak", EventPayload: map[string]any{"idempotency_key": "k3"}})); err != nil {
		t.Fatal(err)
	}
	if m := fake.Messages(ch)[1]; string(m.Metadata) == "" || m.Text != "second, edited" {
		t.Fatalf("after update: %+v", m)
	}
	// Malformed metadata is refused, as Slack does.
	_, _, err = api.PostMessage(ch, slack.MsgOptionText("x", false), slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "firebreak"}))
	wantSlackError(t, err, "invalid_metadata_format")

	// The bot reads only channels it is in.
	notIn := fake.AddChannel("", "announcements")
	_, err = api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: notIn})
	wantSlackError(t, err, "not_in_channel")
	private := fake.AddChannel("", "secret", slackfake.Private())
	_, err = api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: private})
	wantSlackError(t, err, "channel_not_found")
}
