// Package slackfake is a stateful fake of the parts of Slack that Firebreak
// uses: the Web API, response URLs and Socket Mode. It speaks Slack's wire
// protocol, so tests drive the real slack-go client against it:
//
//	fake := slackfake.New()
//	t.Cleanup(fake.Close)
//	api := slack.New(slackfake.DefaultBotToken, slack.OptionAPIURL(fake.URL()))
//
// The fake answers with Slack's own error codes and follows Slack's rules
// where a test could trip over them: the bot sees a private channel only if
// it is a member, and it cannot post to a public channel it has not joined
// unless the server was built WithChatWritePublic (a bot with the
// chat:write.public scope). Tokens fail as Slack's do: an unknown one with
// invalid_auth, a revoked one (RevokeToken) with token_revoked; InjectError
// fails any method, auth.test and apps.connections.open included.
package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of a server built without options.
const (
	DefaultBotToken  = "xoxb-test"
	DefaultAppToken  = "xapp-test"
	DefaultTeamID    = "T0TEST001"
	DefaultTeamName  = "Firebreak Test"
	DefaultBotUserID = "U0BOT0001"
	DefaultBotName   = "firebreak"
	DefaultBotID     = "B0BOT0001"
	DefaultAppID     = "A0APP0001"
)

type config struct {
	botTokens       []string
	appToken        string
	teamID          string
	teamName        string
	botUserID       string
	botName         string
	clock           func() time.Time
	chatWritePublic bool
	pingInterval    time.Duration
}

// Option configures a Server.
type Option func(*config)

// WithBotTokens replaces the bot tokens the Web API accepts.
func WithBotTokens(tokens ...string) Option {
	return func(c *config) { c.botTokens = slices.Clone(tokens) }
}

// WithAppToken sets the app-level token apps.connections.open accepts.
func WithAppToken(token string) Option {
	return func(c *config) { c.appToken = token }
}

// WithTeam sets the workspace ID and name.
func WithTeam(id, name string) Option {
	return func(c *config) { c.teamID, c.teamName = id, name }
}

// WithBotUser sets the user ID and name the bot token acts as.
func WithBotUser(userID, name string) Option {
	return func(c *config) { c.botUserID, c.botName = userID, name }
}

// WithClock sets the clock message timestamps are taken from.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// WithChatWritePublic lets the bot post to public channels it is not in.
func WithChatWritePublic() Option {
	return func(c *config) { c.chatWritePublic = true }
}

// WithPingInterval sets how often Socket Mode connections are pinged;
// slack-go reconnects when it misses pings for its own ping interval (30s).
func WithPingInterval(d time.Duration) Option {
	return func(c *config) { c.pingInterval = d }
}

// Channel is a snapshot of a conversation.
type Channel struct {
	ID       string
	Name     string
	Topic    string
	Purpose  string
	Creator  string
	Members  []string
	Private  bool
	Archived bool
	Created  time.Time
}

// ChannelOption configures a channel added with AddChannel.
type ChannelOption func(*Channel)

// Private makes the channel private.
func Private() ChannelOption { return func(c *Channel) { c.Private = true } }

// Archived archives the channel.
func Archived() ChannelOption { return func(c *Channel) { c.Archived = true } }

// Members sets the channel's members; include the bot's user ID for the
// bot to be in it.
func Members(userIDs ...string) ChannelOption {
	return func(c *Channel) { c.Members = slices.Clone(userIDs) }
}

// Topic sets the channel topic.
func Topic(topic string) ChannelOption { return func(c *Channel) { c.Topic = topic } }

// Purpose sets the channel purpose.
func Purpose(purpose string) ChannelOption { return func(c *Channel) { c.Purpose = purpose } }

// CreatedBy sets the channel's creator.
func CreatedBy(userID string) ChannelOption { return func(c *Channel) { c.Creator = userID } }

// Message is a message stored in a channel.
type Message struct {
	Channel     string
	TS          string
	ThreadTS    string // set on thread replies
	User        string
	BotID       string
	Text        string
	Blocks      json.RawMessage
	Attachments json.RawMessage
	Metadata    json.RawMessage
	Files       []string // IDs of files shared with the message
	Edits       int      // how often chat.update changed it
}

// Ephemeral is a message only one user saw.
type Ephemeral struct {
	Channel     string
	User        string
	TS          string
	ThreadTS    string
	Text        string
	Blocks      json.RawMessage
	Attachments json.RawMessage
}

// File is an uploaded file whose upload was completed.
type File struct {
	ID       string
	Name     string
	Title    string
	User     string
	Content  []byte
	Channels []string
}

type user struct {
	id       string
	name     string
	realName string
	email    string
	bot      bool
	deleted  bool
}

// UserOption configures a user added with AddUser.
type UserOption func(*user)

// RealName sets the user's full name.
func RealName(name string) UserOption { return func(u *user) { u.realName = name } }

// Email sets the user's email, for users.lookupByEmail.
func Email(addr string) UserOption { return func(u *user) { u.email = addr } }

// IsBot marks the user as a bot user.
func IsBot() UserOption { return func(u *user) { u.bot = true } }

// Deleted marks the user as deactivated.
func Deleted() UserOption { return func(u *user) { u.deleted = true } }

type userGroup struct {
	id      string
	handle  string
	members []string
	created int64
}

// channel is a Channel plus what only the wire format needs.
type channel struct {
	Channel
	topicBy, purposeBy   string
	topicSet, purposeSet int64
}

type file struct {
	File
	length   int
	uploaded bool
	done     bool
}

type injected struct {
	times      int
	code       string
	retryAfter time.Duration
}

// Server is a running fake Slack. It is safe for concurrent use.
type Server struct {
	cfg  config
	http *httptest.Server

	mu         sync.Mutex
	users      []*user
	groups     []*userGroup
	channels   []*channel
	messages   map[string][]*Message
	ephemerals []Ephemeral
	files      []*file
	responses  map[string][]json.RawMessage // by response URL path
	calls      map[string]int
	rateLimits map[string]*injected
	failures   map[string]*injected
	tickets    map[string]bool
	revoked    map[string]bool
	lastTS     int64
	seq        int

	sock sockets
}

// New starts a fake Slack on a local port. Close it when done.
func New(opts ...Option) *Server {
	cfg := config{
		botTokens:    []string{DefaultBotToken},
		appToken:     DefaultAppToken,
		teamID:       DefaultTeamID,
		teamName:     DefaultTeamName,
		botUserID:    DefaultBotUserID,
		botName:      DefaultBotName,
		clock:        time.Now,
		pingInterval: 2 * time.Second,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	s := &Server{
		cfg:        cfg,
		messages:   map[string][]*Message{},
		responses:  map[string][]json.RawMessage{},
		calls:      map[string]int{},
		rateLimits: map[string]*injected{},
		failures:   map[string]*injected{},
		tickets:    map[string]bool{},
		revoked:    map[string]bool{},
	}
	s.initSockets()
	s.users = append(s.users, &user{id: cfg.botUserID, name: cfg.botName, realName: cfg.botName, bot: true})

	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serveAPI)
	mux.HandleFunc("POST /upload/v1/{id}", s.serveUpload)
	mux.HandleFunc("POST /response/{id}", s.serveResponseURL)
	mux.HandleFunc("/link/", s.serveSocket)
	s.http = httptest.NewServer(mux)
	return s
}

// URL is the Web API base URL, for slack.OptionAPIURL; it ends in "/".
func (s *Server) URL() string { return s.http.URL + "/api/" }

// BotUserID is the user ID the bot token acts as.
func (s *Server) BotUserID() string { return s.cfg.botUserID }

// Close drops Socket Mode connections and stops the server.
func (s *Server) Close() {
	s.closeSockets()
	s.http.Close()
}

// AddUser adds or replaces a workspace user.
func (s *Server) AddUser(id, name string, opts ...UserOption) {
	u := &user{id: id, name: name, realName: name}
	for _, opt := range opts {
		opt(u)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.IndexFunc(s.users, func(x *user) bool { return x.id == id }); i >= 0 {
		s.users[i] = u
		return
	}
	s.users = append(s.users, u)
}

// AddUserGroup adds or replaces a user group (ID "S…", handle without "@").
func (s *Server) AddUserGroup(id, handle string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &userGroup{id: id, handle: handle, members: slices.Clone(members), created: s.cfg.clock().Unix()}
	if i := slices.IndexFunc(s.groups, func(x *userGroup) bool { return x.id == id }); i >= 0 {
		s.groups[i] = g
		return
	}
	s.groups = append(s.groups, g)
}

// SetUserGroupMembers replaces a user group's members.
func (s *Server) SetUserGroupMembers(id string, members ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.group(id)
	if g == nil {
		return fmt.Errorf("set members of user group %s: no such user group", id)
	}
	g.members = slices.Clone(members)
	return nil
}

// AddChannel adds a channel as if someone else had created it and returns
// its ID; an empty id gets a generated one. The bot is in it only if
// Members lists it.
func (s *Server) AddChannel(id, name string, opts ...ChannelOption) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" {
		id = s.newID("C", func(id string) bool { return s.channel(id) != nil })
	}
	c := &channel{Channel: Channel{ID: id, Name: name, Created: s.cfg.clock()}}
	for _, opt := range opts {
		opt(&c.Channel)
	}
	c.topicBy, c.purposeBy = c.Creator, c.Creator
	if i := slices.IndexFunc(s.channels, func(x *channel) bool { return x.ID == id }); i >= 0 {
		s.channels[i] = c
	} else {
		s.channels = append(s.channels, c)
	}
	return id
}

// AddMessage posts a message as a user (a human, not the bot) and returns
// its ts; threadTS makes it a thread reply.
func (s *Server) AddMessage(channelID, userID, text, threadTS string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channel(channelID)
	if c == nil {
		return "", fmt.Errorf("add message to %s: no such channel", channelID)
	}
	m := &Message{Channel: c.ID, TS: s.nextTS(), ThreadTS: s.threadOf(c.ID, threadTS), User: userID, Text: text}
	s.messages[c.ID] = append(s.messages[c.ID], m)
	return m.TS, nil
}

// Channel returns the channel with the given ID.
func (s *Server) Channel(id string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channel(id); c != nil {
		return c.snapshot(), true
	}
	return Channel{}, false
}

// ChannelByName returns the channel with the given name ("#" optional).
func (s *Server) ChannelByName(name string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channelNamed(strings.TrimPrefix(name, "#")); c != nil {
		return c.snapshot(), true
	}
	return Channel{}, false
}

// Channels returns every channel in creation order.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, 0, len(s.channels))
	for _, c := range s.channels {
		out = append(out, c.snapshot())
	}
	return out
}

// Messages returns a channel's messages, thread replies included, oldest first.
func (s *Server) Messages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages[channelID]))
	for _, m := range s.messages[channelID] {
		out = append(out, m.clone())
	}
	return out
}

// Ephemerals returns the ephemeral messages shown to a user, oldest first.
func (s *Server) Ephemerals(userID string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ephemeral
	for _, e := range s.ephemerals {
		if e.User == userID {
			e.Blocks, e.Attachments = bytes.Clone(e.Blocks), bytes.Clone(e.Attachments)
			out = append(out, e)
		}
	}
	return out
}

// Files returns the files whose upload was completed, oldest first.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []File
	for _, f := range s.files {
		if f.done {
			c := f.File
			c.Content, c.Channels = bytes.Clone(c.Content), slices.Clone(c.Channels)
			out = append(out, c)
		}
	}
	return out
}

// Calls reports how often a Web API method was called, failed calls included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// CallCounts reports how often each Web API method was called, failed
// calls included.
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// RevokeToken makes every later call with token (a bot or app-level
// token) fail with token_revoked, as after the app was uninstalled or the
// token regenerated. Socket Mode connections already open stay up; drop
// them with DisconnectAll.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[token] = true
}

// InjectRateLimit makes the next times calls of method fail with HTTP 429
// and a Retry-After of retryAfter, rounded up to whole seconds as Slack sends it.
func (s *Server) InjectRateLimit(method string, times int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimits[method] = &injected{times: times, retryAfter: retryAfter}
}

// InjectError makes the next times calls of method fail with the Slack
// error code slackError (e.g. "internal_error").
func (s *Server) InjectError(method, slackError string, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = &injected{times: times, code: slackError}
}

// NewResponseURL returns a fresh response_url on the fake, as Slack puts in
// slash commands and interactions.
func (s *Server) NewResponseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newResponseURL()
}

func (s *Server) newResponseURL() string {
	s.seq++
	path := fmt.Sprintf("/response/%d", s.seq)
	s.responses[path] = nil
	return s.http.URL + path
}

// Responses returns the JSON bodies POSTed to a response URL, oldest first.
func (s *Server) Responses(responseURL string) []json.RawMessage {
	u, err := url.Parse(responseURL)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []json.RawMessage
	for _, r := range s.responses[u.Path] {
		out = append(out, bytes.Clone(r))
	}
	return out
}

// reply is a Web API response body; handlers return it with s.mu held.
type reply map[string]any

func fail(code string) reply { return reply{"ok": false, "error": code} }

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	params, err := readParams(r)
	token, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !hasBearer {
		token = params.Get("token")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	if err != nil {
		writeJSON(w, http.StatusOK, fail("invalid_form_data"))
		return
	}
	handler, appLevel := s.route(method)
	if handler == nil {
		writeJSON(w, http.StatusOK, reply{"ok": false, "error": "unknown_method", "req_method": method})
		return
	}
	if code := s.authorize(token, appLevel); code != "" {
		writeJSON(w, http.StatusOK, fail(code))
		return
	}
	if rl := s.rateLimits[method]; rl != nil && rl.times > 0 {
		rl.times--
		secs := int64(math.Ceil(rl.retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		writeJSON(w, http.StatusTooManyRequests, fail("ratelimited"))
		return
	}
	if e := s.failures[method]; e != nil && e.times > 0 {
		e.times--
		writeJSON(w, http.StatusOK, fail(e.code))
		return
	}
	resp := handler(params)
	if _, set := resp["ok"]; !set {
		resp["ok"] = true
	}
	writeJSON(w, http.StatusOK, resp)
}

// authorize returns the Slack error for a token that may not call a method.
func (s *Server) authorize(token string, appLevel bool) string {
	bot := slices.Contains(s.cfg.botTokens, token)
	app := token == s.cfg.appToken
	switch {
	case token == "":
		return "not_authed"
	case s.revoked[token]:
		return "token_revoked"
	case appLevel && app, !appLevel && bot:
		return ""
	case bot, app:
		return "not_allowed_token_type"
	default:
		return "invalid_auth"
	}
}

// readParams merges query, form and JSON body arguments into one set, as
// Slack accepts any of them. JSON values that are not strings keep their
// JSON text, so blocks arrive the same way whatever the encoding.
func readParams(r *http.Request) (url.Values, error) {
	params := r.URL.Query()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case len(bytes.TrimSpace(body)) == 0:
	case mediaType == "application/json":
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			if string(bytes.TrimSpace(body)) == "null" {
				return params, nil
			}
			return nil, fmt.Errorf("decode json body: %w", err)
		}
		for k, v := range obj {
			var str string
			switch {
			case json.Unmarshal(v, &str) == nil:
				params.Set(k, str)
			case string(v) != "null":
				params.Set(k, string(v))
			}
		}
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("decode form body: %w", err)
		}
		for k, v := range form {
			params[k] = v
		}
	}
	return params, nil
}

// nextTS returns a message timestamp from the clock, bumped by a
// microsecond when needed so timestamps are unique and increasing.
func (s *Server) nextTS() string {
	now := s.cfg.clock().UnixMicro()
	if now <= s.lastTS {
		now = s.lastTS + 1
	}
	s.lastTS = now
	return fmt.Sprintf("%d.%06d", now/1_000_000, now%1_000_000)
}

func (s *Server) newID(prefix string, taken func(string) bool) string {
	for {
		s.seq++
		id := fmt.Sprintf("%s%08X", prefix, s.seq)
		if !taken(id) {
			return id
		}
	}
}

// find returns the first item matching, or nil; lists stay small in tests.
func find[T any](items []*T, match func(*T) bool) *T {
	if i := slices.IndexFunc(items, match); i >= 0 {
		return items[i]
	}
	return nil
}

func (s *Server) user(id string) *user {
	return find(s.users, func(u *user) bool { return u.id == id })
}

func (s *Server) group(id string) *userGroup {
	return find(s.groups, func(g *userGroup) bool { return g.id == id })
}

func (s *Server) channel(id string) *channel {
	return find(s.channels, func(c *channel) bool { return c.ID == id })
}

func (s *Server) channelNamed(name string) *channel {
	return find(s.channels, func(c *channel) bool { return c.Name == name })
}

func (s *Server) file(id string) *file {
	return find(s.files, func(f *file) bool { return f.ID == id })
}

func (c *channel) snapshot() Channel {
	out := c.Channel
	out.Members = slices.Clone(c.Members)
	return out
}

func (c *channel) has(userID string) bool { return slices.Contains(c.Members, userID) }

func (m *Message) clone() Message {
	out := *m
	out.Blocks = bytes.Clone(m.Blocks)
	out.Attachments = bytes.Clone(m.Attachments)
	out.Metadata = bytes.Clone(m.Metadata)
	out.Files = slices.Clone(m.Files)
	return out
}

// serveUpload receives a file body at the URL files.getUploadURLExternal
// handed out; slack-go sends it as multipart field "file", other clients
// as the raw body.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	var content []byte
	var err error
	if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType == "multipart/form-data" {
		content, err = multipartFile(r)
	} else {
		content, err = io.ReadAll(r.Body)
	}
	if err != nil {
		http.Error(w, "bad upload: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.file(r.PathValue("id"))
	if f == nil || f.done {
		http.Error(w, "upload url not found", http.StatusNotFound)
		return
	}
	f.Content, f.uploaded = content, true
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "OK - %d", len(content))
}

func multipartFile(r *http.Request) ([]byte, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("read multipart: %w", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, fmt.Errorf("no file part")
		}
		if err != nil {
			return nil, fmt.Errorf("read multipart: %w", err)
		}
		if part.FormName() == "file" {
			return io.ReadAll(part)
		}
	}
}

// serveResponseURL records what an app POSTs to a response_url.
func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || !json.Valid(body) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	got, ok := s.responses[r.URL.Path]
	if !ok {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	s.responses[r.URL.Path] = append(got, json.RawMessage(body))
	writeJSON(w, http.StatusOK, reply{"ok": true})
}
