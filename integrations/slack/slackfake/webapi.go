package slackfake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Slack's limits the fake enforces.
const (
	maxTextLen        = 40000
	maxBlocks         = 50
	maxAttachments    = 100
	maxChannelNameLen = 80
	maxTopicLen       = 250
)

// route returns the handler of a Web API method and whether it takes the
// app-level token instead of a bot token.
func (s *Server) route(method string) (handler func(url.Values) reply, appLevel bool) {
	switch method {
	case "auth.test":
		return s.authTest, false
	case "conversations.create":
		return s.conversationsCreate, false
	case "conversations.invite":
		return s.conversationsInvite, false
	case "conversations.setTopic":
		return func(p url.Values) reply { return s.setChannelText(p, "topic") }, false
	case "conversations.setPurpose":
		return func(p url.Values) reply { return s.setChannelText(p, "purpose") }, false
	case "conversations.info":
		return s.conversationsInfo, false
	case "conversations.join":
		return s.conversationsJoin, false
	case "conversations.members":
		return s.conversationsMembers, false
	case "conversations.history":
		return s.conversationsHistory, false
	case "conversations.replies":
		return s.conversationsReplies, false
	case "chat.postMessage":
		return s.chatPostMessage, false
	case "chat.update":
		return s.chatUpdate, false
	case "chat.postEphemeral":
		return s.chatPostEphemeral, false
	case "chat.getPermalink":
		return s.chatGetPermalink, false
	case "usergroups.list":
		return s.usergroupsList, false
	case "usergroups.users.list":
		return s.usergroupsUsersList, false
	case "users.info":
		return s.usersInfo, false
	case "users.list":
		return s.usersList, false
	case "users.lookupByEmail":
		return s.usersLookupByEmail, false
	case "files.getUploadURLExternal":
		return s.filesGetUploadURLExternal, false
	case "files.completeUploadExternal":
		return s.filesCompleteUploadExternal, false
	case "apps.connections.open":
		return s.appsConnectionsOpen, true
	}
	return nil, false
}

func (s *Server) authTest(url.Values) reply {
	return reply{
		"url":                   "https://" + s.domain() + ".slack.com/",
		"team":                  s.cfg.teamName,
		"user":                  s.cfg.botName,
		"team_id":               s.cfg.teamID,
		"user_id":               s.cfg.botUserID,
		"bot_id":                DefaultBotID,
		"is_enterprise_install": false,
	}
}

// domain derives the workspace subdomain from the team name.
func (s *Server) domain() string {
	d := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s.cfg.teamName)
	return strings.Trim(d, "-")
}

// lookup finds a channel as the bot sees it: by ID, or also by name
// ("#" optional) when byName. A private channel the bot is not in does not
// exist for it.
func (s *Server) lookup(ref string, byName bool) *channel {
	var c *channel
	if name, ok := strings.CutPrefix(ref, "#"); ok && byName {
		c = s.channelNamed(name)
	} else if c = s.channel(ref); c == nil && byName {
		c = s.channelNamed(ref)
	}
	if c == nil || (c.Private && !c.has(s.cfg.botUserID)) {
		return nil
	}
	return c
}

// canPost returns the error Slack gives when the bot may not post in c.
func (s *Server) canPost(c *channel) string {
	switch {
	case c.Archived:
		return "is_archived"
	case !c.has(s.cfg.botUserID) && (c.Private || !s.cfg.chatWritePublic):
		return "not_in_channel"
	}
	return ""
}

func (s *Server) channelJSON(c *channel) reply {
	return reply{
		"id":              c.ID,
		"name":            c.Name,
		"name_normalized": c.Name,
		"is_channel":      true,
		"is_group":        false,
		"is_im":           false,
		"is_mpim":         false,
		"is_private":      c.Private,
		"is_archived":     c.Archived,
		"is_general":      false,
		"is_shared":       false,
		"is_ext_shared":   false,
		"is_org_shared":   false,
		"is_member":       c.has(s.cfg.botUserID),
		"created":         c.Created.Unix(),
		"creator":         c.Creator,
		"topic":           reply{"value": c.Topic, "creator": c.topicBy, "last_set": c.topicSet},
		"purpose":         reply{"value": c.Purpose, "creator": c.purposeBy, "last_set": c.purposeSet},
	}
}

// channelNameError checks a new channel's name as conversations.create does.
func channelNameError(name string) string {
	switch {
	case name == "":
		return "invalid_name_required"
	case utf8.RuneCountInString(name) > maxChannelNameLen:
		return "invalid_name_maxlength"
	case strings.ContainsFunc(name, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_'
	}):
		return "invalid_name_specials"
	case !strings.ContainsFunc(name, func(r rune) bool { return r != '-' && r != '_' }):
		return "invalid_name_punctuation"
	}
	return ""
}

func (s *Server) conversationsCreate(p url.Values) reply {
	name := p.Get("name")
	if code := channelNameError(name); code != "" {
		return fail(code)
	}
	if s.channelNamed(name) != nil {
		return fail("name_taken")
	}
	bot := s.cfg.botUserID
	c := &channel{Channel: Channel{
		ID:      s.newID("C", func(id string) bool { return s.channel(id) != nil }),
		Name:    name,
		Creator: bot,
		Members: []string{bot},
		Private: p.Get("is_private") == "true",
		Created: s.cfg.clock(),
	}}
	s.channels = append(s.channels, c)
	return reply{"channel": s.channelJSON(c)}
}

// conversationsInvite is all-or-nothing unless force=true, when it invites
// the valid users and reports the rest. Failures come per user in
// "errors", the shape slack-go decodes as ConversationsInviteResponseError.
func (s *Server) conversationsInvite(p url.Values) reply {
	bot := s.cfg.botUserID
	c := s.lookup(p.Get("channel"), false)
	switch {
	case c == nil:
		return fail("channel_not_found")
	case c.Archived:
		return fail("is_archived")
	case !c.has(bot):
		return fail("not_in_channel")
	}
	var invite []string
	var errs []reply
	for id := range strings.SplitSeq(p.Get("users"), ",") {
		id = strings.TrimSpace(id)
		if id == "" || slices.Contains(invite, id) {
			continue
		}
		code := ""
		switch {
		case id == bot:
			code = "cant_invite_self"
		case s.user(id) == nil:
			code = "user_not_found"
		case c.has(id):
			code = "already_in_channel"
		}
		if code != "" {
			errs = append(errs, reply{"user": id, "ok": false, "error": code})
			continue
		}
		invite = append(invite, id)
	}
	if len(invite) == 0 && len(errs) == 0 {
		return fail("no_user")
	}
	if len(errs) > 0 && (p.Get("force") != "true" || len(invite) == 0) {
		return reply{"ok": false, "error": errs[0]["error"], "errors": errs}
	}
	c.Members = append(c.Members, invite...)
	r := reply{"channel": s.channelJSON(c)}
	if len(errs) > 0 {
		r["errors"] = errs
	}
	return r
}

// setChannelText serves conversations.setTopic and conversations.setPurpose.
func (s *Server) setChannelText(p url.Values, field string) reply {
	c := s.lookup(p.Get("channel"), false)
	text := p.Get(field)
	switch {
	case c == nil:
		return fail("channel_not_found")
	case c.Archived:
		return fail("is_archived")
	case !c.has(s.cfg.botUserID):
		return fail("not_in_channel")
	case utf8.RuneCountInString(text) > maxTopicLen:
		return fail("too_long")
	}
	now := s.cfg.clock().Unix()
	if field == "topic" {
		c.Topic, c.topicBy, c.topicSet = text, s.cfg.botUserID, now
	} else {
		c.Purpose, c.purposeBy, c.purposeSet = text, s.cfg.botUserID, now
	}
	return reply{"channel": s.channelJSON(c)}
}

func (s *Server) conversationsInfo(p url.Values) reply {
	c := s.lookup(p.Get("channel"), false)
	if c == nil {
		return fail("channel_not_found")
	}
	ch := s.channelJSON(c)
	if p.Get("include_num_members") == "true" {
		ch["num_members"] = len(c.Members)
	}
	return reply{"channel": ch}
}

func (s *Server) conversationsJoin(p url.Values) reply {
	c := s.lookup(p.Get("channel"), false)
	switch {
	case c == nil:
		return fail("channel_not_found")
	case c.Private:
		return fail("method_not_supported_for_channel_type")
	case c.Archived:
		return fail("is_archived")
	case c.has(s.cfg.botUserID):
		return reply{
			"channel":           s.channelJSON(c),
			"warning":           "already_in_channel",
			"response_metadata": reply{"warnings": []string{"already_in_channel"}},
		}
	}
	c.Members = append(c.Members, s.cfg.botUserID)
	return reply{"channel": s.channelJSON(c)}
}

func (s *Server) conversationsMembers(p url.Values) reply {
	c := s.lookup(p.Get("channel"), false)
	if c == nil {
		return fail("channel_not_found")
	}
	members, next, code := paginate(c.Members, p)
	if code != "" {
		return fail(code)
	}
	return reply{"members": slices.Clone(members), "response_metadata": reply{"next_cursor": next}}
}

// paginate serves one page of items for Slack's cursor pagination. The
// cursor is opaque to clients; here it encodes the next offset.
func paginate[T any](items []T, p url.Values) (page []T, next, code string) {
	start := 0
	if cursor := p.Get("cursor"); cursor != "" {
		raw, err := base64.StdEncoding.DecodeString(cursor)
		offset, ok := strings.CutPrefix(string(raw), "next:")
		if err != nil || !ok {
			return nil, "", "invalid_cursor"
		}
		if start, err = strconv.Atoi(offset); err != nil || start < 0 || start > len(items) {
			return nil, "", "invalid_cursor"
		}
	}
	end := len(items)
	if limit, _ := strconv.Atoi(p.Get("limit")); limit > 0 && start+limit < end {
		end = start + limit
		next = base64.StdEncoding.EncodeToString([]byte("next:" + strconv.Itoa(end)))
	}
	return items[start:end], next, ""
}

// content is a message body as chat.* methods receive it.
type content struct {
	text        string
	blocks      json.RawMessage
	attachments json.RawMessage
}

func (c content) empty() bool { return c.text == "" && c.blocks == nil && c.attachments == nil }

// parseContent reads text, blocks and attachments; "blocks=[]" (which
// slack-go sends to clear blocks) yields no blocks.
func parseContent(p url.Values) (content, string) {
	c := content{text: p.Get("text")}
	if raw := p.Get("blocks"); raw != "" {
		var blocks []struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(raw), &blocks); err != nil || len(blocks) > maxBlocks {
			return c, "invalid_blocks"
		}
		for _, b := range blocks {
			if b.Type == "" {
				return c, "invalid_blocks"
			}
		}
		if len(blocks) > 0 {
			c.blocks = json.RawMessage(raw)
		}
	}
	if raw := p.Get("attachments"); raw != "" {
		var atts []json.RawMessage
		if err := json.Unmarshal([]byte(raw), &atts); err != nil {
			return c, "invalid_attachments"
		}
		if len(atts) > maxAttachments {
			return c, "too_many_attachments"
		}
		if len(atts) > 0 {
			c.attachments = json.RawMessage(raw)
		}
	}
	if len(c.text) > maxTextLen {
		return c, "msg_too_long"
	}
	return c, ""
}

func (s *Server) findMessage(channelID, ts string) *Message {
	if ts == "" {
		return nil
	}
	return find(s.messages[channelID], func(m *Message) bool { return m.TS == ts })
}

// threadOf resolves a thread_ts: a reply's ts means its parent's thread,
// and an unknown ts posts unthreaded, as Slack does for a deleted parent.
func (s *Server) threadOf(channelID, ts string) string {
	m := s.findMessage(channelID, ts)
	switch {
	case m == nil:
		return ""
	case m.ThreadTS != "":
		return m.ThreadTS
	}
	return m.TS
}

// metadataParam reads a message's metadata as chat.postMessage and
// chat.update take it: a JSON object with an event_type and an
// event_payload object; Slack refuses anything else.
func metadataParam(p url.Values) (json.RawMessage, string) {
	raw := p.Get("metadata")
	if raw == "" {
		return nil, ""
	}
	var md struct {
		EventType    string         `json:"event_type"`
		EventPayload map[string]any `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(raw), &md); err != nil || md.EventType == "" || md.EventPayload == nil {
		return nil, "invalid_metadata_format"
	}
	return json.RawMessage(raw), ""
}

func (s *Server) messageJSON(m *Message) reply {
	r := reply{"type": "message", "text": m.Text, "ts": m.TS, "user": m.User, "team": s.cfg.teamID}
	if m.BotID != "" {
		r["bot_id"], r["app_id"] = m.BotID, DefaultAppID
	}
	if m.ThreadTS != "" {
		r["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != nil {
		r["blocks"] = m.Blocks
	}
	if m.Attachments != nil {
		r["attachments"] = m.Attachments
	}
	if m.Metadata != nil {
		r["metadata"] = m.Metadata
	}
	if len(m.Files) > 0 {
		files := make([]reply, 0, len(m.Files))
		for _, id := range m.Files {
			files = append(files, reply{"id": id})
		}
		r["files"] = files
	}
	return r
}

// post stores a message from the bot.
func (s *Server) post(c *channel, body content, threadTS string) *Message {
	m := &Message{
		Channel:     c.ID,
		TS:          s.nextTS(),
		ThreadTS:    s.threadOf(c.ID, threadTS),
		User:        s.cfg.botUserID,
		BotID:       DefaultBotID,
		Text:        body.text,
		Blocks:      body.blocks,
		Attachments: body.attachments,
	}
	s.messages[c.ID] = append(s.messages[c.ID], m)
	return m
}

func (s *Server) chatPostMessage(p url.Values) reply {
	c := s.lookup(p.Get("channel"), true)
	if c == nil {
		return fail("channel_not_found")
	}
	if code := s.canPost(c); code != "" {
		return fail(code)
	}
	body, code := parseContent(p)
	switch {
	case code != "":
		return fail(code)
	case body.empty():
		return fail("no_text")
	}
	md, code := metadataParam(p)
	if code != "" {
		return fail(code)
	}
	m := s.post(c, body, p.Get("thread_ts"))
	m.Metadata = md
	return reply{"channel": c.ID, "ts": m.TS, "message": s.messageJSON(m)}
}

// chatUpdate replaces the fields the call names and keeps the others, as
// Slack keeps a message's blocks when an update sends only text.
func (s *Server) chatUpdate(p url.Values) reply {
	c := s.lookup(p.Get("channel"), false)
	if c == nil {
		return fail("channel_not_found")
	}
	m := s.findMessage(c.ID, p.Get("ts"))
	switch {
	case m == nil:
		return fail("message_not_found")
	case m.User != s.cfg.botUserID:
		return fail("cant_update_message")
	case c.Archived:
		return fail("is_archived")
	}
	body, code := parseContent(p)
	if code != "" {
		return fail(code)
	}
	md, code := metadataParam(p)
	if code != "" {
		return fail(code)
	}
	next := content{text: m.Text, blocks: m.Blocks, attachments: m.Attachments}
	if p.Has("text") {
		next.text = body.text
	}
	if p.Has("blocks") {
		next.blocks = body.blocks
	}
	if p.Has("attachments") {
		next.attachments = body.attachments
	}
	if next.empty() {
		return fail("no_text")
	}
	m.Text, m.Blocks, m.Attachments = next.text, next.blocks, next.attachments
	if md != nil {
		m.Metadata = md
	}
	m.Edits++
	msg := s.messageJSON(m)
	msg["edited"] = reply{"user": s.cfg.botUserID, "ts": s.nextTS()}
	return reply{"channel": c.ID, "ts": m.TS, "text": m.Text, "message": msg}
}

// readable finds a channel whose messages the bot may read, or returns
// Slack's error: it must be a member (a public channel it is not in
// answers not_in_channel).
func (s *Server) readable(p url.Values) (*channel, string) {
	c := s.lookup(p.Get("channel"), false)
	switch {
	case c == nil:
		return nil, "channel_not_found"
	case !c.has(s.cfg.botUserID):
		return nil, "not_in_channel"
	}
	return c, ""
}

// inWindow keeps the messages between oldest and latest (Slack's
// timestamps, exclusive unless inclusive=true), as conversations.history
// and conversations.replies filter them.
func inWindow(msgs []*Message, p url.Values) []*Message {
	oldest, latest := p.Get("oldest"), p.Get("latest")
	inclusive := p.Get("inclusive") == "true" || p.Get("inclusive") == "1"
	after := func(ts, bound string) bool { return tsAfter(ts, bound) || (inclusive && ts == bound) }
	var out []*Message
	for _, m := range msgs {
		if oldest != "" && !after(m.TS, oldest) {
			continue
		}
		if latest != "" && !after(latest, m.TS) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// tsAfter compares Slack timestamps ("seconds.micros") numerically.
func tsAfter(a, b string) bool {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA != nil || errB != nil {
		return a > b
	}
	return x > y
}

// historyJSON renders messages; metadata only with include_all_metadata,
// as Slack leaves it out otherwise.
func (s *Server) historyJSON(msgs []*Message, p url.Values) []reply {
	withMetadata := p.Get("include_all_metadata") == "true" || p.Get("include_all_metadata") == "1"
	out := make([]reply, 0, len(msgs))
	for _, m := range msgs {
		r := s.messageJSON(m)
		if !withMetadata {
			delete(r, "metadata")
		}
		out = append(out, r)
	}
	return out
}

// conversationsHistory lists a channel's top-level messages (thread
// replies stay in their thread), newest first, a page at a time.
func (s *Server) conversationsHistory(p url.Values) reply {
	c, code := s.readable(p)
	if code != "" {
		return fail(code)
	}
	var top []*Message
	for _, m := range s.messages[c.ID] {
		if m.ThreadTS == "" || m.ThreadTS == m.TS {
			top = append(top, m)
		}
	}
	top = inWindow(top, p)
	slices.Reverse(top)
	page, next, code := paginate(top, withDefaultLimit(p, 100))
	if code != "" {
		return fail(code)
	}
	return reply{"messages": s.historyJSON(page, p), "has_more": next != "", "response_metadata": reply{"next_cursor": next}}
}

// conversationsReplies lists a thread, its parent first, oldest first.
func (s *Server) conversationsReplies(p url.Values) reply {
	c, code := s.readable(p)
	if code != "" {
		return fail(code)
	}
	parent := s.findMessage(c.ID, p.Get("ts"))
	if parent == nil {
		return fail("thread_not_found")
	}
	root := parent.TS
	if parent.ThreadTS != "" {
		root = parent.ThreadTS
	}
	var thread []*Message
	for _, m := range s.messages[c.ID] {
		if m.TS == root || m.ThreadTS == root {
			thread = append(thread, m)
		}
	}
	page, next, code := paginate(inWindow(thread, p), withDefaultLimit(p, 1000))
	if code != "" {
		return fail(code)
	}
	return reply{"messages": s.historyJSON(page, p), "has_more": next != "", "response_metadata": reply{"next_cursor": next}}
}

// withDefaultLimit applies Slack's default page size when none is asked for.
func withDefaultLimit(p url.Values, limit int) url.Values {
	if n, _ := strconv.Atoi(p.Get("limit")); n > 0 {
		return p
	}
	q := url.Values{}
	for k, v := range p {
		q[k] = v
	}
	q.Set("limit", strconv.Itoa(limit))
	return q
}

func (s *Server) chatPostEphemeral(p url.Values) reply {
	c := s.lookup(p.Get("channel"), true)
	if c == nil {
		return fail("channel_not_found")
	}
	u := s.user(p.Get("user"))
	if u == nil {
		return fail("user_not_found")
	}
	if code := s.canPost(c); code != "" {
		return fail(code)
	}
	if !c.has(u.id) {
		return fail("user_not_in_channel")
	}
	body, code := parseContent(p)
	switch {
	case code != "":
		return fail(code)
	case body.empty():
		return fail("no_text")
	}
	e := Ephemeral{
		Channel:     c.ID,
		User:        u.id,
		TS:          s.nextTS(),
		ThreadTS:    p.Get("thread_ts"),
		Text:        body.text,
		Blocks:      body.blocks,
		Attachments: body.attachments,
	}
	s.ephemerals = append(s.ephemerals, e)
	return reply{"message_ts": e.TS}
}

func (s *Server) chatGetPermalink(p url.Values) reply {
	c := s.lookup(p.Get("channel"), false)
	if c == nil {
		return fail("channel_not_found")
	}
	m := s.findMessage(c.ID, p.Get("message_ts"))
	if m == nil {
		return fail("message_not_found")
	}
	link := fmt.Sprintf("https://%s.slack.com/archives/%s/p%s", s.domain(), c.ID, strings.Replace(m.TS, ".", "", 1))
	if m.ThreadTS != "" {
		link += "?thread_ts=" + m.ThreadTS + "&cid=" + c.ID
	}
	return reply{"channel": c.ID, "permalink": link}
}

func (s *Server) groupJSON(g *userGroup, withUsers bool) reply {
	r := reply{
		"id":           g.id,
		"team_id":      s.cfg.teamID,
		"is_usergroup": true,
		"is_subteam":   true,
		"name":         g.handle,
		"description":  "",
		"handle":       g.handle,
		"is_external":  false,
		"date_create":  g.created,
		"date_update":  g.created,
		"date_delete":  0,
		"auto_type":    "",
		"created_by":   s.cfg.botUserID,
		"updated_by":   s.cfg.botUserID,
		"deleted_by":   "",
		"prefs":        reply{"channels": []string{}, "groups": []string{}},
		"user_count":   len(g.members),
	}
	if withUsers {
		r["users"] = append([]string{}, g.members...)
	}
	return r
}

func (s *Server) usergroupsList(p url.Values) reply {
	groups := make([]reply, 0, len(s.groups))
	for _, g := range s.groups {
		groups = append(groups, s.groupJSON(g, p.Get("include_users") == "true"))
	}
	return reply{"usergroups": groups}
}

func (s *Server) usergroupsUsersList(p url.Values) reply {
	g := s.group(p.Get("usergroup"))
	if g == nil {
		return fail("no_such_subteam")
	}
	return reply{"users": append([]string{}, g.members...)}
}

func (s *Server) userJSON(u *user) reply {
	profile := reply{
		"real_name":               u.realName,
		"real_name_normalized":    u.realName,
		"display_name":            u.name,
		"display_name_normalized": u.name,
		"team":                    s.cfg.teamID,
	}
	if u.email != "" {
		profile["email"] = u.email
	}
	if u.id == s.cfg.botUserID {
		profile["bot_id"], profile["api_app_id"] = DefaultBotID, DefaultAppID
	}
	return reply{
		"id":          u.id,
		"team_id":     s.cfg.teamID,
		"name":        u.name,
		"deleted":     u.deleted,
		"real_name":   u.realName,
		"is_bot":      u.bot,
		"is_app_user": false,
		"tz":          "Etc/UTC",
		"tz_label":    "Coordinated Universal Time",
		"tz_offset":   0,
		"profile":     profile,
	}
}

// usersInfo also serves the "users" list argument slack-go's GetUsersInfo sends.
func (s *Server) usersInfo(p url.Values) reply {
	if ids := p.Get("users"); ids != "" {
		var users []reply
		for id := range strings.SplitSeq(ids, ",") {
			u := s.user(strings.TrimSpace(id))
			if u == nil {
				return fail("user_not_found")
			}
			users = append(users, s.userJSON(u))
		}
		return reply{"users": users}
	}
	u := s.user(p.Get("user"))
	if u == nil {
		return fail("user_not_found")
	}
	return reply{"user": s.userJSON(u)}
}

func (s *Server) usersList(p url.Values) reply {
	page, next, code := paginate(s.users, p)
	if code != "" {
		return fail(code)
	}
	members := make([]reply, 0, len(page))
	for _, u := range page {
		members = append(members, s.userJSON(u))
	}
	return reply{
		"members":           members,
		"cache_ts":          s.cfg.clock().Unix(),
		"response_metadata": reply{"next_cursor": next},
	}
}

func (s *Server) usersLookupByEmail(p url.Values) reply {
	email := p.Get("email")
	u := find(s.users, func(u *user) bool { return u.email != "" && strings.EqualFold(u.email, email) })
	if u == nil {
		return fail("users_not_found")
	}
	return reply{"user": s.userJSON(u)}
}

func (s *Server) filesGetUploadURLExternal(p url.Values) reply {
	name := p.Get("filename")
	length, err := strconv.Atoi(p.Get("length"))
	if name == "" || err != nil || length <= 0 {
		return fail("invalid_arguments")
	}
	f := &file{File: File{
		ID:   s.newID("F", func(id string) bool { return s.file(id) != nil }),
		Name: name,
		User: s.cfg.botUserID,
	}, length: length}
	s.files = append(s.files, f)
	return reply{"upload_url": s.http.URL + "/upload/v1/" + f.ID, "file_id": f.ID}
}

// filesCompleteUploadExternal finishes uploads and shares the files, as
// Slack does, in one message per channel carrying the initial comment.
func (s *Server) filesCompleteUploadExternal(p url.Values) reply {
	var summaries []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(p.Get("files")), &summaries); err != nil || len(summaries) == 0 {
		return fail("invalid_arguments")
	}
	var files []*file
	for _, sum := range summaries {
		f := s.file(sum.ID)
		if f == nil || !f.uploaded || f.done {
			return fail("file_not_found")
		}
		files = append(files, f)
	}
	var targets []string
	if id := p.Get("channel_id"); id != "" {
		targets = append(targets, id)
	}
	for id := range strings.SplitSeq(p.Get("channels"), ",") {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(targets, id) {
			targets = append(targets, id)
		}
	}
	var channels []*channel
	for _, id := range targets {
		c := s.lookup(id, false)
		if c == nil {
			return fail("channel_not_found")
		}
		if code := s.canPost(c); code != "" {
			return fail(code)
		}
		channels = append(channels, c)
	}
	body := content{text: p.Get("initial_comment")}
	if raw := p.Get("blocks"); raw != "" && json.Valid([]byte(raw)) {
		body.blocks = json.RawMessage(raw)
	}

	ids := make([]string, 0, len(files))
	out := make([]reply, 0, len(files))
	for i, f := range files {
		f.Title = summaries[i].Title
		if f.Title == "" {
			f.Title = f.Name
		}
		f.Channels, f.done = slices.Clone(targets), true
		ids = append(ids, f.ID)
		out = append(out, reply{"id": f.ID, "title": f.Title})
	}
	for _, c := range channels {
		m := s.post(c, body, p.Get("thread_ts"))
		m.Files = slices.Clone(ids)
	}
	return reply{"files": out}
}

func (s *Server) appsConnectionsOpen(url.Values) reply {
	ticket := rand.Text()
	s.tickets[ticket] = true
	wsURL := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/link/?ticket=" + ticket + "&app_id=" + DefaultAppID
	return reply{"url": wsURL}
}
