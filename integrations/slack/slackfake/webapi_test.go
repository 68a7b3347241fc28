package slackfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
)

func newFake(t *testing.T, opts ...slackfake.Option) (*slackfake.Server, *slack.Client) {
	t.Helper()
	fake := slackfake.New(opts...)
	t.Cleanup(fake.Close)
	return fake, slack.New(slackfake.DefaultBotToken, slack.OptionAPIURL(fake.URL()))
}

// wantSlackError fails unless err is Slack's error response with code.
func wantSlackError(t *testing.T, err error, code string) slack.SlackErrorResponse {
	t.Helper()
	resp, ok := errors.AsType[slack.SlackErrorResponse](err)
	if !ok {
		t.Fatalf("got error %v (%T), want Slack error %q", err, err, code)
	}
	if resp.Err != code {
		t.Fatalf("got Slack error %q, want %q", resp.Err, code)
	}
	return resp
}

// createChannel creates a public channel through the API, so the bot is in it.
func createChannel(t *testing.T, api *slack.Client, name string) string {
	t.Helper()
	ch, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: name})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return ch.ID
}

func TestURLEndsInSlash(t *testing.T) {
	fake, _ := newFake(t)
	if !strings.HasSuffix(fake.URL(), "/api/") {
		t.Fatalf("URL() = %q, want it to end in /api/", fake.URL())
	}
}

func TestAuth(t *testing.T) {
	fake, api := newFake(t, slackfake.WithBotTokens("xoxb-one", slackfake.DefaultBotToken))
	got, err := api.AuthTest()
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != slackfake.DefaultBotUserID || got.TeamID != slackfake.DefaultTeamID || got.BotID != slackfake.DefaultBotID {
		t.Errorf("auth.test = %+v", got)
	}
	if _, err := slack.New("xoxb-one", slack.OptionAPIURL(fake.URL())).AuthTest(); err != nil {
		t.Errorf("second bot token: %v", err)
	}
	for token, code := range map[string]string{
		"xoxb-wrong":              "invalid_auth",
		"":                        "not_authed",
		slackfake.DefaultAppToken: "not_allowed_token_type",
	} {
		_, err := slack.New(token, slack.OptionAPIURL(fake.URL())).AuthTest()
		wantSlackError(t, err, code)
	}
	if n := fake.Calls("auth.test"); n != 5 {
		t.Errorf("Calls(auth.test) = %d, want 5", n)
	}
}

func TestBadTokenOnEveryKindOfRequest(t *testing.T) {
	fake, _ := newFake(t)
	api := slack.New("xoxb-revoked", slack.OptionAPIURL(fake.URL()))
	_, _, err := api.PostMessage("C1", slack.MsgOptionText("hi", false)) // form body token
	wantSlackError(t, err, "invalid_auth")
	_, err = api.GetPermalink(&slack.PermalinkParameters{Channel: "C1", Ts: "1.2"}) // GET with bearer
	wantSlackError(t, err, "invalid_auth")
}

func TestConversationsCreate(t *testing.T) {
	fake, api := newFake(t)
	ch, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-42-db-outage", IsPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ch.ID, "C") || ch.Name != "inc-42-db-outage" || !ch.IsPrivate || !ch.IsMember || ch.Creator != fake.BotUserID() {
		t.Errorf("created channel = %+v", ch)
	}
	stored, ok := fake.ChannelByName("#inc-42-db-outage")
	if !ok || stored.ID != ch.ID || !stored.Private || !slices.Equal(stored.Members, []string{fake.BotUserID()}) {
		t.Errorf("stored channel = %+v, %v", stored, ok)
	}

	for name, code := range map[string]string{
		"inc-42-db-outage":      "name_taken",
		"Has Caps":              "invalid_name_specials",
		"inc!":                  "invalid_name_specials",
		strings.Repeat("a", 81): "invalid_name_maxlength",
		"---":                   "invalid_name_punctuation",
		"":                      "invalid_name_required",
	} {
		_, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: name})
		wantSlackError(t, err, code)
	}
	if n := len(fake.Channels()); n != 1 {
		t.Errorf("%d channels after failed creates, want 1", n)
	}
}

func TestConversationsInvite(t *testing.T) {
	fake, api := newFake(t)
	for _, id := range []string{"U1", "U2", "U3"} {
		fake.AddUser(id, strings.ToLower(id))
	}
	ch := createChannel(t, api, "inc-1")

	if got, err := api.InviteUsersToConversation(ch, "U1"); err != nil || got.ID != ch {
		t.Fatalf("invite U1: %+v, %v", got, err)
	}

	_, err := api.InviteUsersToConversation(ch, "U1")
	resp := wantSlackError(t, err, "already_in_channel")
	if len(resp.Errors) != 1 || resp.Errors[0].ConversationsInviteResponseError == nil ||
		resp.Errors[0].ConversationsInviteResponseError.User != "U1" {
		t.Errorf("already_in_channel errors = %+v", resp.Errors)
	}

	_, err = api.InviteUsersToConversation(ch, fake.BotUserID())
	wantSlackError(t, err, "cant_invite_self")
	_, err = api.InviteUsersToConversation(ch, "UNOBODY")
	wantSlackError(t, err, "user_not_found")
	_, err = api.InviteUsersToConversation("CNOPE", "U2")
	wantSlackError(t, err, "channel_not_found")

	// Without force one bad user fails the whole call.
	_, err = api.InviteUsersToConversation(ch, "U2", "UNOBODY")
	wantSlackError(t, err, "user_not_found")
	if c, _ := fake.Channel(ch); slices.Contains(c.Members, "U2") {
		t.Error("U2 was invited by a failed call")
	}
	// With force the valid users get in.
	if _, err := api.ForceInviteUsersToConversation(ch, "U2", "UNOBODY"); err != nil {
		t.Fatalf("force invite: %v", err)
	}
	if c, _ := fake.Channel(ch); !slices.Equal(c.Members, []string{fake.BotUserID(), "U1", "U2"}) {
		t.Errorf("members = %v", c.Members)
	}

	public := fake.AddChannel("", "general", slackfake.Members("U3"))
	_, err = api.InviteUsersToConversation(public, "U1")
	wantSlackError(t, err, "not_in_channel")
	private := fake.AddChannel("", "secret", slackfake.Private(), slackfake.Members("U3"))
	_, err = api.InviteUsersToConversation(private, "U1")
	wantSlackError(t, err, "channel_not_found")
}

func TestConversationsTopicAndPurpose(t *testing.T) {
	fake, api := newFake(t)
	ch := createChannel(t, api, "inc-2")

	got, err := api.SetTopicOfConversation(ch, "SEV1: checkout down")
	if err != nil || got.Topic.Value != "SEV1: checkout down" || got.Topic.Creator != fake.BotUserID() {
		t.Fatalf("setTopic: %+v, %v", got, err)
	}
	if got, err = api.SetPurposeOfConversation(ch, "Incident 2"); err != nil || got.Purpose.Value != "Incident 2" {
		t.Fatalf("setPurpose: %+v, %v", got, err)
	}
	if c, _ := fake.Channel(ch); c.Topic != "SEV1: checkout down" || c.Purpose != "Incident 2" {
		t.Errorf("stored = %+v", c)
	}

	_, err = api.SetTopicOfConversation(ch, strings.Repeat("x", 251))
	wantSlackError(t, err, "too_long")
	_, err = api.SetTopicOfConversation("CNOPE", "x")
	wantSlackError(t, err, "channel_not_found")
	notIn := fake.AddChannel("", "random")
	_, err = api.SetPurposeOfConversation(notIn, "x")
	wantSlackError(t, err, "not_in_channel")
}

func TestConversationsInfoJoinMembers(t *testing.T) {
	fake, api := newFake(t)
	members := []string{"U1", "U2", "U3", "U4", "U5"}
	public := fake.AddChannel("C0PUBLIC1", "ops", slackfake.Members(members...), slackfake.Topic("on-call"), slackfake.CreatedBy("U1"))

	info, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: public, IncludeNumMembers: true})
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "ops" || info.IsMember || info.NumMembers != 5 || info.Topic.Value != "on-call" || info.Creator != "U1" {
		t.Errorf("info = %+v", info)
	}

	var got []string
	cursor := ""
	for {
		page, next, err := api.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: public, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, members) {
		t.Errorf("paged members = %v", got)
	}

	joined, warning, _, err := api.JoinConversation(public)
	if err != nil || !joined.IsMember || warning != "" {
		t.Fatalf("join: %+v %q %v", joined, warning, err)
	}
	if _, warning, warnings, err := api.JoinConversation(public); err != nil || warning != "already_in_channel" || len(warnings) != 1 {
		t.Errorf("second join: %q %v %v", warning, warnings, err)
	}

	private := fake.AddChannel("", "secret", slackfake.Private(), slackfake.Members(fake.BotUserID()))
	_, _, _, err = api.JoinConversation(private)
	wantSlackError(t, err, "method_not_supported_for_channel_type")
	archived := fake.AddChannel("", "old", slackfake.Archived())
	_, _, _, err = api.JoinConversation(archived)
	wantSlackError(t, err, "is_archived")

	hidden := fake.AddChannel("", "hidden", slackfake.Private())
	_, err = api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: hidden})
	wantSlackError(t, err, "channel_not_found")
	_, _, err = api.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: hidden})
	wantSlackError(t, err, "channel_not_found")
}

func TestChatPostMessage(t *testing.T) {
	fake, api := newFake(t)
	ch := createChannel(t, api, "incidents")
	blocks := slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*SEV1*", false, false), nil, nil))

	for _, ref := range []string{ch, "#incidents", "incidents"} {
		gotCh, ts, err := api.PostMessage(ref, slack.MsgOptionText("posted to "+ref, false), blocks)
		if err != nil || gotCh != ch || ts == "" {
			t.Fatalf("post to %q: %q %q %v", ref, gotCh, ts, err)
		}
	}
	msgs := fake.Messages(ch)
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want 3", len(msgs))
	}
	parent := msgs[0]
	if parent.Text != "posted to "+ch || parent.User != fake.BotUserID() || parent.BotID != slackfake.DefaultBotID {
		t.Errorf("message = %+v", parent)
	}
	var decoded []map[string]any
	if err := json.Unmarshal(parent.Blocks, &decoded); err != nil || len(decoded) != 1 || decoded[0]["type"] != "section" {
		t.Errorf("blocks = %s (%v)", parent.Blocks, err)
	}

	_, _, reply, err := api.PostMessageWithResponse(ch, slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent.TS))
	if err != nil || reply.ThreadTimestamp != parent.TS || reply.Text != "reply" || reply.BotID != slackfake.DefaultBotID {
		t.Fatalf("thread reply: %+v %v", reply, err)
	}
	// A reply to a reply lands in the parent's thread.
	_, _, nested, err := api.PostMessageWithResponse(ch, slack.MsgOptionText("nested", false), slack.MsgOptionTS(reply.Timestamp))
	if err != nil || nested.ThreadTimestamp != parent.TS {
		t.Errorf("nested reply thread = %q, %v", nested.ThreadTimestamp, err)
	}

	_, _, err = api.PostMessage(ch)
	wantSlackError(t, err, "no_text")
	_, _, err = api.PostMessage("#nowhere", slack.MsgOptionText("x", false))
	wantSlackError(t, err, "channel_not_found")
	_, _, err = api.PostMessage(ch, slack.MsgOptionText(strings.Repeat("x", 40001), false))
	wantSlackError(t, err, "msg_too_long")
	atts := make([]slack.Attachment, 101)
	_, _, err = api.PostMessage(ch, slack.MsgOptionText("x", false), slack.MsgOptionAttachments(atts...))
	wantSlackError(t, err, "too_many_attachments")

	notIn := fake.AddChannel("", "announcements")
	_, _, err = api.PostMessage(notIn, slack.MsgOptionText("x", false))
	wantSlackError(t, err, "not_in_channel")
	archived := fake.AddChannel("", "archived", slackfake.Archived(), slackfake.Members(fake.BotUserID()))
	_, _, err = api.PostMessage(archived, slack.MsgOptionText("x", false))
	wantSlackError(t, err, "is_archived")
}

func TestChatWritePublic(t *testing.T) {
	fake, api := newFake(t, slackfake.WithChatWritePublic())
	public := fake.AddChannel("", "announcements")
	if _, _, err := api.PostMessage("#announcements", slack.MsgOptionText("hello", false)); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Messages(public)); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
	private := fake.AddChannel("", "secret", slackfake.Private())
	_, _, err := api.PostMessage(private, slack.MsgOptionText("x", false))
	wantSlackError(t, err, "channel_not_found")
}

func TestChatUpdate(t *testing.T) {
	fake, api := newFake(t)
	ch := createChannel(t, api, "inc-3")
	section := slack.NewSectionBlock(slack.NewTextBlockObject("plain_text", "Approve?", false, false), nil, nil)
	_, ts, err := api.PostMessage(ch, slack.MsgOptionText("approval needed", false), slack.MsgOptionBlocks(section))
	if err != nil {
		t.Fatal(err)
	}

	gotCh, gotTS, text, err := api.UpdateMessage(ch, ts, slack.MsgOptionText("approved by U1", false))
	if err != nil || gotCh != ch || gotTS != ts || text != "approved by U1" {
		t.Fatalf("update: %q %q %q %v", gotCh, gotTS, text, err)
	}
	m := fake.Messages(ch)[0]
	if m.Text != "approved by U1" || m.Edits != 1 || m.Blocks == nil {
		t.Errorf("after text update: %+v", m)
	}
	// slack-go sends blocks=[] for an empty MsgOptionBlocks, which clears them.
	if _, _, _, err := api.UpdateMessage(ch, ts, slack.MsgOptionBlocks()); err != nil {
		t.Fatal(err)
	}
	if m := fake.Messages(ch)[0]; m.Blocks != nil || m.Text != "approved by U1" || m.Edits != 2 {
		t.Errorf("after clearing blocks: %+v", m)
	}

	_, _, _, err = api.UpdateMessage(ch, "1.000001", slack.MsgOptionText("x", false))
	wantSlackError(t, err, "message_not_found")
	_, _, _, err = api.UpdateMessage("CNOPE", ts, slack.MsgOptionText("x", false))
	wantSlackError(t, err, "channel_not_found")
	human, err := fake.AddMessage(ch, "U1", "I'm on it", "")
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = api.UpdateMessage(ch, human, slack.MsgOptionText("x", false))
	wantSlackError(t, err, "cant_update_message")
	_, _, _, err = api.UpdateMessage(ch, ts, slack.MsgOptionText("", false))
	wantSlackError(t, err, "no_text")
}

func TestChatPostEphemeralAndPermalink(t *testing.T) {
	fake, api := newFake(t)
	fake.AddUser("U1", "ada")
	fake.AddUser("U2", "bob")
	ch := createChannel(t, api, "inc-4")
	if _, err := api.InviteUsersToConversation(ch, "U1"); err != nil {
		t.Fatal(err)
	}

	ts, err := api.PostEphemeral("#inc-4", "U1", slack.MsgOptionText("only you can approve your own step? no.", false))
	if err != nil || ts == "" {
		t.Fatalf("postEphemeral: %q %v", ts, err)
	}
	got := fake.Ephemerals("U1")
	if len(got) != 1 || got[0].Channel != ch || got[0].TS != ts || !strings.Contains(got[0].Text, "approve") {
		t.Errorf("ephemerals = %+v", got)
	}
	if len(fake.Messages(ch)) != 0 || len(fake.Ephemerals("U2")) != 0 {
		t.Error("ephemeral leaked into the channel or another user")
	}
	_, err = api.PostEphemeral(ch, "U2", slack.MsgOptionText("x", false))
	wantSlackError(t, err, "user_not_in_channel")
	_, err = api.PostEphemeral(ch, "UNOBODY", slack.MsgOptionText("x", false))
	wantSlackError(t, err, "user_not_found")
	_, err = api.PostEphemeral(ch, "U1")
	wantSlackError(t, err, "no_text")

	_, parent, err := api.PostMessage(ch, slack.MsgOptionText("parent", false))
	if err != nil {
		t.Fatal(err)
	}
	link, err := api.GetPermalink(&slack.PermalinkParameters{Channel: ch, Ts: parent})
	want := "https://firebreak-test.slack.com/archives/" + ch + "/p" + strings.Replace(parent, ".", "", 1)
	if err != nil || link != want {
		t.Errorf("permalink = %q, %v; want %q", link, err, want)
	}
	reply, err := fake.AddMessage(ch, "U1", "ack", parent)
	if err != nil {
		t.Fatal(err)
	}
	if link, err := api.GetPermalink(&slack.PermalinkParameters{Channel: ch, Ts: reply}); err != nil || !strings.HasSuffix(link, "?thread_ts="+parent+"&cid="+ch) {
		t.Errorf("reply permalink = %q, %v", link, err)
	}
	_, err = api.GetPermalink(&slack.PermalinkParameters{Channel: ch, Ts: "1.000002"})
	wantSlackError(t, err, "message_not_found")
}

func TestUserGroups(t *testing.T) {
	fake, api := newFake(t)
	fake.AddUserGroup("S0COMMAND", "incident-commanders", "U1", "U2")
	fake.AddUserGroup("S0SECURTY", "security")

	groups, err := api.GetUserGroups(slack.GetUserGroupsOptionIncludeUsers(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[0].ID != "S0COMMAND" || groups[0].Handle != "incident-commanders" ||
		!slices.Equal(groups[0].Users, []string{"U1", "U2"}) || groups[0].UserCount != 2 {
		t.Errorf("groups = %+v", groups)
	}
	if groups, _ := api.GetUserGroups(); len(groups[0].Users) != 0 {
		t.Errorf("users listed without include_users: %v", groups[0].Users)
	}

	if err := fake.SetUserGroupMembers("S0COMMAND", "U3"); err != nil {
		t.Fatal(err)
	}
	members, err := api.GetUserGroupMembers("S0COMMAND")
	if err != nil || !slices.Equal(members, []string{"U3"}) {
		t.Errorf("members = %v, %v", members, err)
	}
	if members, err := api.GetUserGroupMembers("S0SECURTY"); err != nil || members == nil || len(members) != 0 {
		t.Errorf("empty group members = %#v, %v", members, err)
	}
	_, err = api.GetUserGroupMembers("S0NOPE")
	wantSlackError(t, err, "no_such_subteam")
	if err := fake.SetUserGroupMembers("S0NOPE"); err == nil {
		t.Error("SetUserGroupMembers of an unknown group succeeded")
	}
}

func TestUsers(t *testing.T) {
	fake, api := newFake(t)
	fake.AddUser("U1", "ada", slackfake.RealName("Ada Lovelace"), slackfake.Email("ada@example.com"))
	fake.AddUser("U2", "gone", slackfake.Deleted())
	fake.AddUser("U3", "pagerbot", slackfake.IsBot())

	u, err := api.GetUserInfo("U1")
	if err != nil || u.Name != "ada" || u.RealName != "Ada Lovelace" || u.Profile.Email != "ada@example.com" || u.IsBot || u.Deleted {
		t.Fatalf("users.info = %+v, %v", u, err)
	}
	if u, err := api.GetUserInfo("U2"); err != nil || !u.Deleted {
		t.Errorf("deleted user = %+v, %v", u, err)
	}
	_, err = api.GetUserInfo("UNOBODY")
	wantSlackError(t, err, "user_not_found")
	if us, err := api.GetUsersInfo("U1", "U3"); err != nil || len(*us) != 2 || !(*us)[1].IsBot {
		t.Errorf("users.info with users = %+v, %v", us, err)
	}

	all, err := api.GetUsers(slack.GetUsersOptionLimit(2))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range all {
		ids = append(ids, u.ID)
	}
	if !slices.Equal(ids, []string{fake.BotUserID(), "U1", "U2", "U3"}) {
		t.Errorf("users.list ids = %v", ids)
	}
	if n := fake.Calls("users.list"); n != 2 {
		t.Errorf("users.list pages = %d, want 2", n)
	}
	_, err = api.GetUsersPaginated(slack.GetUsersOptionCursor("bogus")).Next(context.Background())
	wantSlackError(t, err, "invalid_cursor")

	if u, err := api.GetUserByEmail("ADA@example.com"); err != nil || u.ID != "U1" {
		t.Errorf("lookupByEmail = %+v, %v", u, err)
	}
	_, err = api.GetUserByEmail("nobody@example.com")
	wantSlackError(t, err, "users_not_found")
}

func TestFileUpload(t *testing.T) {
	fake, api := newFake(t)
	ch := createChannel(t, api, "inc-5")
	timeline := "10:00 declared\n10:05 isolated i-0abc\n"

	got, err := api.UploadFileContext(context.Background(), slack.UploadFileParameters{
		Filename:       "timeline.md",
		Title:          "Post-mortem timeline",
		Content:        timeline,
		FileSize:       len(timeline),
		Channel:        ch,
		InitialComment: "Timeline attached",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.ID, "F") || got.Title != "Post-mortem timeline" {
		t.Errorf("summary = %+v", got)
	}
	files := fake.Files()
	if len(files) != 1 || files[0].ID != got.ID || files[0].Name != "timeline.md" ||
		string(files[0].Content) != timeline || !slices.Equal(files[0].Channels, []string{ch}) {
		t.Fatalf("files = %+v", files)
	}
	msgs := fake.Messages(ch)
	if len(msgs) != 1 || msgs[0].Text != "Timeline attached" || !slices.Equal(msgs[0].Files, []string{got.ID}) {
		t.Errorf("share message = %+v", msgs)
	}

	_, err = api.UploadFileContext(context.Background(), slack.UploadFileParameters{
		Filename: "x.txt", Content: "x", FileSize: 1, Channel: "CNOPE",
	})
	wantSlackError(t, err, "channel_not_found")
	_, err = api.CompleteUploadExternalContext(context.Background(), slack.CompleteUploadExternalParameters{
		Files: []slack.FileSummary{{ID: "F0NEVERUP"}},
	})
	wantSlackError(t, err, "file_not_found")
	if n := len(fake.Files()); n != 1 {
		t.Errorf("%d files after failed uploads, want 1", n)
	}
}

func TestRateLimitAndInjectedErrors(t *testing.T) {
	fake, api := newFake(t)
	ch := createChannel(t, api, "inc-6")

	fake.InjectRateLimit("chat.postMessage", 2, 1500*time.Millisecond)
	for range 2 {
		_, _, err := api.PostMessage(ch, slack.MsgOptionText("x", false))
		rl, ok := errors.AsType[*slack.RateLimitedError](err)
		if !ok || rl.RetryAfter != 2*time.Second {
			t.Fatalf("got %v, want a rate limit with Retry-After 2s", err)
		}
	}
	if _, _, err := api.PostMessage(ch, slack.MsgOptionText("x", false)); err != nil {
		t.Fatalf("after the injected limits: %v", err)
	}
	if n := fake.Calls("chat.postMessage"); n != 3 {
		t.Errorf("Calls = %d, want 3", n)
	}
	if n := len(fake.Messages(ch)); n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}

	fake.InjectError("conversations.create", "internal_error", 1)
	_, err := api.CreateConversation(slack.CreateConversationParams{ChannelName: "inc-7"})
	wantSlackError(t, err, "internal_error")
	createChannel(t, api, "inc-7")
}

// TestConcurrentPosts checks that timestamps stay unique and ordered when
// many posts race, even with a clock that never moves.
func TestConcurrentPosts(t *testing.T) {
	frozen := time.Unix(1700000000, 100_000)
	fake, api := newFake(t, slackfake.WithClock(func() time.Time { return frozen }))
	ch := createChannel(t, api, "inc-8")

	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, _, err := api.PostMessage(ch, slack.MsgOptionText(fmt.Sprintf("%d-%d", w, i), false)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	msgs := fake.Messages(ch)
	if len(msgs) != workers*each {
		t.Fatalf("%d messages, want %d", len(msgs), workers*each)
	}
	if msgs[0].TS != "1700000000.000100" {
		t.Errorf("first ts = %q", msgs[0].TS)
	}
	for i := 1; i < len(msgs); i++ {
		if !tsLess(msgs[i-1].TS, msgs[i].TS) {
			t.Fatalf("ts %q not before %q", msgs[i-1].TS, msgs[i].TS)
		}
	}
}

// tsLess compares Slack timestamps, which have a fixed six-digit fraction.
func tsLess(a, b string) bool {
	return len(a) < len(b) || (len(a) == len(b) && a < b)
}

func TestResponseURL(t *testing.T) {
	fake, api := newFake(t)
	respURL := fake.NewResponseURL()

	if _, _, err := api.PostMessage("", slack.MsgOptionText("only you", false), slack.MsgOptionResponseURL(respURL, slack.ResponseTypeEphemeral)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessage("", slack.MsgOptionText("approved", false), slack.MsgOptionReplaceOriginal(respURL)); err != nil {
		t.Fatal(err)
	}
	got := fake.Responses(respURL)
	if len(got) != 2 {
		t.Fatalf("%d responses, want 2", len(got))
	}
	var first, second map[string]any
	if err := json.Unmarshal(got[0], &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got[1], &second); err != nil {
		t.Fatal(err)
	}
	if first["response_type"] != "ephemeral" || first["text"] != "only you" {
		t.Errorf("first response = %s", got[0])
	}
	if second["replace_original"] != true || second["text"] != "approved" {
		t.Errorf("second response = %s", got[1])
	}

	resp, err := http.Post(strings.Replace(respURL, "/response/", "/response/9", 1), "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown response URL: status %d", resp.StatusCode)
	}
}

// TestJSONBody checks the JSON encoding other Slack clients use.
func TestJSONBody(t *testing.T) {
	fake, api := newFake(t)
	ch := createChannel(t, api, "inc-9")
	body := `{"channel":"` + ch + `","text":"from json","blocks":[{"type":"divider"}],"unfurl_links":false}`
	req, err := http.NewRequest(http.MethodPost, fake.URL()+"chat.postMessage", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+slackfake.DefaultBotToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		OK bool   `json:"ok"`
		TS string `json:"ts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || !got.OK {
		t.Fatalf("reply %+v, %v", got, err)
	}
	m := fake.Messages(ch)[0]
	if m.Text != "from json" || !bytes.Equal(m.Blocks, []byte(`[{"type":"divider"}]`)) {
		t.Errorf("message = %+v (blocks %s)", m, m.Blocks)
	}
}

func TestUnknownMethod(t *testing.T) {
	fake, _ := newFake(t)
	resp, err := http.Post(fake.URL()+"chat.teleport", "application/x-www-form-urlencoded", strings.NewReader("token="+slackfake.DefaultBotToken))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got slack.SlackResponse
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.Error != "unknown_method" {
		t.Errorf("got %+v, %v", got, err)
	}
}

func TestSnapshotsAreCopies(t *testing.T) {
	fake, api := newFake(t)
	ch := createChannel(t, api, "inc-10")
	c, _ := fake.Channel(ch)
	c.Members[0] = "UHACKED"
	if c, _ := fake.Channel(ch); c.Members[0] != fake.BotUserID() {
		t.Error("Channel returned internal state")
	}
	if _, _, err := api.PostMessage(ch, slack.MsgOptionText("x", false), slack.MsgOptionBlocks(slack.NewDividerBlock())); err != nil {
		t.Fatal(err)
	}
	m := fake.Messages(ch)[0]
	m.Blocks[0] = 'X'
	if fake.Messages(ch)[0].Blocks[0] != '[' {
		t.Error("Messages returned internal state")
	}
}
