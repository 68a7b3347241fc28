package activities

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// Slack posts to Slack for incidents and runs. Each method is one Web
// API concern, idempotent where Slack lets it be.
type Slack struct {
	API    *goslack.Client
	Render Renderer
}

// Renderer builds Block Kit messages; integrations/slack implements it
// (it depends on workflow types, so activities cannot import it).
type Renderer interface {
	IncidentSummary(card IncidentCard) (blocks []goslack.Block, fallback string)
	// Announcement is the text that tells a channel about a new incident
	// (user text escaped; a private incident's key and title left out).
	Announcement(card IncidentCard) string
}

// IncidentCard is what the incident summary message shows.
type IncidentCard struct {
	Key        string   `json:"key"`
	Title      string   `json:"title"`
	Severity   string   `json:"severity"`
	Status     string   `json:"status"`
	Commander  string   `json:"commander,omitempty"`
	DeclaredBy string   `json:"declared_by"`
	Channel    string   `json:"channel,omitempty"`
	Suggested  []string `json:"suggested,omitempty"`
	Summary    string   `json:"summary,omitempty"`
	Private    bool     `json:"private,omitempty"`
}

// CreateChannelInput names the incident whose channel to create.
type CreateChannelInput struct {
	Key     string `json:"key"`
	Title   string `json:"title"`
	Private bool   `json:"private,omitempty"`
}

// ChannelResult is a channel's ID and name.
type ChannelResult struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// slugRe keeps what Slack allows in channel names.
var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

// ChannelName is inc-<key>-<slug of title>, within Slack's 80 characters.
func ChannelName(key, title string) string {
	name := "inc-" + strings.ToLower(strings.TrimPrefix(strings.ToLower(key), "inc-"))
	slug := strings.Trim(slugRe.ReplaceAllString(strings.ToLower(title), "-"), "-")
	if slug != "" {
		name += "-" + slug
	}
	if len(name) > 80 {
		name = strings.TrimRight(name[:80], "-")
	}
	return name
}

// maxChannelNames bounds the fresh names tried when the incident's name is
// taken (inc-…-2, inc-…-3, …).
const maxChannelNames = 10

// CreateIncidentChannel creates #inc-<key>-<slug>, private when asked.
// It never adopts a channel it did not create: when the name is taken
// (a look-alike someone made, or a channel left from another install), it
// picks a fresh one. A retry after a crash finds the channel the earlier
// attempt created in the activity's heartbeat, so it is not created twice.
func (s *Slack) CreateIncidentChannel(ctx context.Context, in CreateChannelInput) (ChannelResult, error) {
	if activity.HasHeartbeatDetails(ctx) {
		var prev ChannelResult
		if err := activity.GetHeartbeatDetails(ctx, &prev); err == nil && prev.ID != "" {
			return prev, nil
		}
	}
	base := ChannelName(in.Key, in.Title)
	for i := 1; i <= maxChannelNames; i++ {
		name := base
		if i > 1 {
			suffix := fmt.Sprintf("-%d", i)
			name = strings.TrimRight(base[:min(len(base), 80-len(suffix))], "-") + suffix
		}
		ch, err := s.API.CreateConversationContext(ctx, goslack.CreateConversationParams{ChannelName: name, IsPrivate: in.Private})
		if err == nil {
			res := ChannelResult{ID: ch.ID, Name: ch.Name}
			activity.RecordHeartbeat(ctx, res)
			return res, nil
		}
		if !isSlackError(err, "name_taken") {
			return ChannelResult{}, SlackError("create channel #"+name, err)
		}
	}
	return ChannelResult{}, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("channel names #%s to #%s-%d are all taken; archive some", base, base, maxChannelNames), "ChannelTaken", nil)
}

// SetUpChannelInput invites people and sets the topic.
type SetUpChannelInput struct {
	Channel string   `json:"channel"`
	Invite  []string `json:"invite,omitempty"`
	Topic   string   `json:"topic,omitempty"`
}

// SetUpChannel invites users (already-in-channel is fine) and sets the topic.
func (s *Slack) SetUpChannel(ctx context.Context, in SetUpChannelInput) error {
	// User group IDs (S…) invite their members.
	var users []string
	add := func(u string) {
		if u != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	for _, u := range in.Invite {
		if !strings.HasPrefix(u, "S") {
			add(u)
			continue
		}
		members, err := s.API.GetUserGroupMembersContext(ctx, u)
		if err != nil {
			return SlackError("members of user group "+u, err)
		}
		for _, m := range members {
			add(m)
		}
	}
	if len(users) > 0 {
		if _, err := s.API.InviteUsersToConversationContext(ctx, in.Channel, users...); err != nil && !isSlackError(err, "already_in_channel") {
			return SlackError("invite to "+in.Channel, err)
		}
	}
	if in.Topic != "" {
		if _, err := s.API.SetTopicOfConversationContext(ctx, in.Channel, in.Topic); err != nil {
			return SlackError("set topic of "+in.Channel, err)
		}
	}
	return nil
}

// SummaryInput posts (TS empty) or updates (TS set) the summary message.
type SummaryInput struct {
	Channel string       `json:"channel"`
	TS      string       `json:"ts,omitempty"`
	Card    IncidentCard `json:"card"`
	// IdempotencyKey names the post, so a retry finds the summary it
	// already posted instead of posting a second one.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// PostResult is the posted message's timestamp, Slack's message ID.
type PostResult struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// PostIncidentSummary posts or updates the incident's summary with buttons.
func (s *Slack) PostIncidentSummary(ctx context.Context, in SummaryInput) (PostResult, error) {
	blocks, text := s.Render.IncidentSummary(in.Card)
	opts := []goslack.MsgOption{goslack.MsgOptionBlocks(blocks...), goslack.MsgOptionText(text, false)}
	if in.TS != "" {
		_, ts, _, err := s.API.UpdateMessageContext(ctx, in.Channel, in.TS, opts...)
		if err != nil {
			return PostResult{}, SlackError("update summary", err)
		}
		return PostResult{Channel: in.Channel, TS: ts}, nil
	}
	res, _, err := PostMessageOnce(ctx, s.API, in.Channel, "", in.IdempotencyKey, nil, opts...)
	if err != nil {
		return PostResult{}, SlackError("post summary", err)
	}
	return res, nil
}

// PostInput is a plain message.
type PostInput struct {
	Channel string `json:"channel"`
	Text    string `json:"text"`
	Thread  string `json:"thread,omitempty"`
	// IdempotencyKey names the post (see SummaryInput).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Post sends a plain text message.
func (s *Slack) Post(ctx context.Context, in PostInput) (PostResult, error) {
	opts := []goslack.MsgOption{goslack.MsgOptionText(in.Text, false)}
	if in.Thread != "" {
		opts = append(opts, goslack.MsgOptionTS(in.Thread))
	}
	res, _, err := PostMessageOnce(ctx, s.API, in.Channel, in.Thread, in.IdempotencyKey, nil, opts...)
	if err != nil {
		return PostResult{}, SlackError("post to "+in.Channel, err)
	}
	return res, nil
}

// Slack message metadata marks Firebreak's posts with their idempotency
// key, so a retried activity can find what an earlier attempt posted.
const (
	metadataEventType = "firebreak"
	metadataKey       = "idempotency_key"
	// lookBack bounds the search for an earlier attempt's message: retries
	// of one activity happen within minutes.
	lookBack      = time.Hour
	lookBackLimit = 200
)

// KeyMetadata is the message metadata that marks a post with key; extra
// fields (a later stage of the same post, say) go beside it.
func KeyMetadata(key string, extra map[string]any) goslack.SlackMetadata {
	payload := map[string]any{metadataKey: key}
	for k, v := range extra {
		payload[k] = v
	}
	return goslack.SlackMetadata{EventType: metadataEventType, EventPayload: payload}
}

// Posted is a message found by its idempotency key, with its metadata.
type Posted struct {
	PostResult
	Payload map[string]any
}

// FindPosted looks for the bot's recent message in channel (in thread,
// when set) that carries key, and returns nil when there is none. A
// channel the bot cannot read has no message to find: one it posts to
// with chat:write.public without being a member, one given by name
// (history takes IDs only), or any without the history scopes.
func FindPosted(ctx context.Context, api *goslack.Client, channel, thread, key string) (*Posted, error) {
	oldest := fmt.Sprintf("%d.000000", time.Now().Add(-lookBack).Unix())
	var msgs []goslack.Message
	var err error
	if thread != "" {
		msgs, _, _, err = api.GetConversationRepliesContext(ctx, &goslack.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: thread, Oldest: oldest, Limit: lookBackLimit, IncludeAllMetadata: true,
		})
	} else {
		var h *goslack.GetConversationHistoryResponse
		h, err = api.GetConversationHistoryContext(ctx, &goslack.GetConversationHistoryParameters{
			ChannelID: channel, Oldest: oldest, Limit: lookBackLimit, IncludeAllMetadata: true,
		})
		if h != nil {
			msgs = h.Messages
		}
	}
	for _, code := range []string{"not_in_channel", "channel_not_found", "missing_scope", "thread_not_found"} {
		if isSlackError(err, code) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		md := m.Metadata
		if md.EventType == metadataEventType && md.EventPayload[metadataKey] == key {
			return &Posted{PostResult: PostResult{Channel: channel, TS: m.Timestamp}, Payload: md.EventPayload}, nil
		}
	}
	return nil, nil
}

// PostMessageOnce posts a message marked with key, unless an earlier
// attempt already posted it: then it returns that message (found=true).
// An empty key posts without looking, as before keys existed.
func PostMessageOnce(ctx context.Context, api *goslack.Client, channel, thread, key string, extra map[string]any, opts ...goslack.MsgOption) (res PostResult, found *Posted, err error) {
	if key != "" {
		if found, err = FindPosted(ctx, api, channel, thread, key); err != nil {
			return PostResult{}, nil, fmt.Errorf("look for an earlier post: %w", err)
		}
		if found != nil {
			return found.PostResult, found, nil
		}
		opts = append(opts, goslack.MsgOptionMetadata(KeyMetadata(key, extra)))
	}
	ch, ts, err := api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return PostResult{}, nil, err
	}
	return PostResult{Channel: ch, TS: ts}, nil, nil
}

func isSlackError(err error, code string) bool {
	var se goslack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err == code
	}
	return err != nil && err.Error() == code
}

// SlackError turns a Slack Web API error into an activity error: rate
// limits stay retryable after Slack's delay, errors no retry can fix are
// final. Every Slack activity (these and integrations/slack's) uses it.
func SlackError(what string, err error) error {
	var rl *goslack.RateLimitedError
	if errors.As(err, &rl) {
		return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("%s: rate limited", what), "SlackRateLimited",
			temporal.ApplicationErrorOptions{NextRetryDelay: rl.RetryAfter, Cause: err})
	}
	for _, code := range []string{"invalid_auth", "not_authed", "channel_not_found", "user_not_found", "missing_scope", "not_in_channel", "invalid_name_specials", "is_archived", "account_inactive"} {
		if isSlackError(err, code) {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s", what, code), "SlackError", err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// AnnounceInput tells a channel about a new incident.
type AnnounceInput struct {
	Channel string       `json:"channel"`
	Card    IncidentCard `json:"card"`
	// IdempotencyKey names the post (see SummaryInput).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Announce posts the incident's announcement, rendered (and escaped) by
// the Renderer, so a title cannot ping a channel.
func (s *Slack) Announce(ctx context.Context, in AnnounceInput) (PostResult, error) {
	return s.Post(ctx, PostInput{Channel: in.Channel, Text: s.Render.Announcement(in.Card), IdempotencyKey: in.IdempotencyKey})
}
