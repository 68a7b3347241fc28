package slackfake

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
)

const (
	socketWriteTimeout = 5 * time.Second
	// defaultAckTimeout bounds Send* calls whose context has no deadline,
	// so a client that never acks fails the test instead of hanging it.
	defaultAckTimeout = 10 * time.Second
)

// sockets is the Socket Mode side of the server.
type sockets struct {
	mu       sync.Mutex
	upgrader websocket.Upgrader
	all      map[*socket]struct{}
	live     []*socket // sockets envelopes go to, in connection order
	next     int       // round-robin position in live
	opened   int
	changed  chan struct{} // closed and replaced whenever live changes
	pending  map[string]chan json.RawMessage
	closing  bool
	wg       sync.WaitGroup
}

type socket struct {
	id      int
	conn    *websocket.Conn
	writeMu sync.Mutex // gorilla allows one concurrent writer
	closed  chan struct{}
	once    sync.Once
}

func (c *socket) write(msg []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.conn.SetWriteDeadline(time.Now().Add(socketWriteTimeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
		return fmt.Errorf("write to socket %d: %w", c.id, err)
	}
	return nil
}

// close drops the connection without a close frame, like a network failure.
func (c *socket) close() {
	c.once.Do(func() {
		close(c.closed)
		_ = c.conn.Close()
	})
}

func (s *Server) initSockets() {
	s.sock.upgrader = websocket.Upgrader{
		// slack-go sends Origin https://api.slack.com, which is not our host.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	s.sock.all = map[*socket]struct{}{}
	s.sock.changed = make(chan struct{})
	s.sock.pending = map[string]chan json.RawMessage{}
}

// broadcast wakes everyone waiting for live to change; call with mu held.
func (sk *sockets) broadcast() {
	close(sk.changed)
	sk.changed = make(chan struct{})
}

// serveSocket accepts a Socket Mode connection carrying a ticket from
// apps.connections.open, says hello and relays acks until it drops.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.tickets[ticket]
	delete(s.tickets, ticket)
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}

	sk := &s.sock
	sk.mu.Lock()
	if sk.closing {
		sk.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	// Tracked because httptest does not wait for hijacked connections.
	sk.wg.Add(1)
	sk.mu.Unlock()
	defer sk.wg.Done()

	conn, err := sk.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has replied
	}
	c := &socket{conn: conn, closed: make(chan struct{})}
	sk.mu.Lock()
	if sk.closing {
		sk.mu.Unlock()
		c.close()
		return
	}
	sk.opened++
	c.id = sk.opened
	sk.all[c] = struct{}{}
	hello := helloMessage(len(sk.live) + 1)
	sk.mu.Unlock()
	defer s.drop(c)

	if err := c.write(hello); err != nil {
		return
	}
	sk.mu.Lock()
	select {
	case <-c.closed:
		sk.mu.Unlock()
		return
	default:
	}
	sk.live = append(sk.live, c)
	sk.broadcast()
	sk.mu.Unlock()

	sk.wg.Go(func() { s.ping(c) })
	s.readAcks(c)
}

func helloMessage(numConnections int) []byte {
	msg, _ := json.Marshal(map[string]any{
		"type":            "hello",
		"num_connections": numConnections,
		"debug_info": map[string]any{
			"host":                        "applink-slackfake",
			"build_number":                1,
			"approximate_connection_time": 18060,
		},
		"connection_info": map[string]any{"app_id": DefaultAppID},
	})
	return msg
}

// ping keeps slack-go's dead-man timer happy: it reconnects when Slack
// sends no ping for its ping interval.
func (s *Server) ping(c *socket) {
	interval := s.cfg.pingInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(socketWriteTimeout)); err != nil {
			c.close()
			return
		}
		select {
		case <-c.closed:
			return
		case <-t.C:
		}
	}
}

func (s *Server) readAcks(c *socket) {
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.sock.mu.Lock()
		waiting := s.sock.pending[ack.EnvelopeID]
		s.sock.mu.Unlock()
		if waiting != nil {
			select {
			case waiting <- ack.Payload:
			default: // already acked; Slack ignores duplicates too
			}
		}
	}
}

func (s *Server) drop(c *socket) {
	c.close()
	sk := &s.sock
	sk.mu.Lock()
	defer sk.mu.Unlock()
	delete(sk.all, c)
	if i := slices.Index(sk.live, c); i >= 0 {
		sk.live = slices.Delete(sk.live, i, i+1)
		sk.broadcast()
	}
}

func (s *Server) closeSockets() {
	sk := &s.sock
	sk.mu.Lock()
	if sk.closing {
		sk.mu.Unlock()
		return
	}
	sk.closing = true
	conns := make([]*socket, 0, len(sk.all))
	for c := range sk.all {
		conns = append(conns, c)
	}
	sk.live = nil
	sk.broadcast()
	sk.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	sk.wg.Wait()
}

// Connections reports how many Socket Mode connections were ever opened.
func (s *Server) Connections() int {
	s.sock.mu.Lock()
	defer s.sock.mu.Unlock()
	return s.sock.opened
}

// WaitConnected waits until a Socket Mode client is connected and greeted.
func (s *Server) WaitConnected(ctx context.Context) error {
	_, err := s.liveSocket(ctx)
	return err
}

// DisconnectAll drops every Socket Mode connection abruptly, as a network
// failure would, so tests can check that clients reconnect.
func (s *Server) DisconnectAll() {
	sk := &s.sock
	sk.mu.Lock()
	conns := make([]*socket, 0, len(sk.all))
	for c := range sk.all {
		conns = append(conns, c)
	}
	sk.live = nil
	sk.broadcast()
	sk.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// SendDisconnect sends Slack's "disconnect" message (reason e.g.
// "refresh_requested") to every live connection. The fake routes no more
// envelopes to them; the client is expected to reconnect and close them.
func (s *Server) SendDisconnect(reason string) {
	msg, _ := json.Marshal(map[string]any{
		"type":       "disconnect",
		"reason":     reason,
		"debug_info": map[string]any{"host": "applink-slackfake"},
	})
	sk := &s.sock
	sk.mu.Lock()
	conns := sk.live
	sk.live = nil
	sk.broadcast()
	sk.mu.Unlock()
	for _, c := range conns {
		if err := c.write(msg); err != nil {
			c.close()
		}
	}
}

// liveSocket picks the next live connection round-robin, as Slack spreads
// envelopes over an app's connections, waiting for one if there is none.
func (s *Server) liveSocket(ctx context.Context) (*socket, error) {
	sk := &s.sock
	for {
		sk.mu.Lock()
		if sk.closing {
			sk.mu.Unlock()
			return nil, errors.New("slackfake: server closed")
		}
		if n := len(sk.live); n > 0 {
			c := sk.live[sk.next%n]
			sk.next++
			sk.mu.Unlock()
			return c, nil
		}
		changed := sk.changed
		sk.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for a socket mode connection: %w", ctx.Err())
		}
	}
}

// envelope is a Socket Mode message from Slack to the app.
type envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

// SendSlashCommand delivers a slash command over Socket Mode and returns
// the payload of the client's ack (nil if it acked without one). Empty
// team, app, trigger ID and response_url fields are filled in as Slack
// would; the response_url is one of the fake's (see Responses).
func (s *Server) SendSlashCommand(ctx context.Context, cmd slack.SlashCommand) (json.RawMessage, error) {
	s.mu.Lock()
	if cmd.TeamID == "" {
		cmd.TeamID, cmd.TeamDomain = s.cfg.teamID, s.domain()
	}
	if cmd.APIAppID == "" {
		cmd.APIAppID = DefaultAppID
	}
	if cmd.TriggerID == "" {
		s.seq++
		cmd.TriggerID = fmt.Sprintf("%d.%d.%s", s.cfg.clock().Unix(), s.seq, rand.Text())
	}
	if cmd.ResponseURL == "" {
		cmd.ResponseURL = s.newResponseURL()
	}
	s.mu.Unlock()
	// Slack sends the slash command form fields as a JSON object of strings.
	form := SlashCommandForm(cmd)
	fields := make(map[string]string, len(form))
	for k := range form {
		fields[k] = form.Get(k)
	}
	payload, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encode slash command: %w", err)
	}
	return s.deliver(ctx, "slash_commands", payload, true)
}

// SendInteraction delivers an interaction (block action, view submission,
// ...) over Socket Mode and returns the payload of the client's ack.
func (s *Server) SendInteraction(ctx context.Context, cb slack.InteractionCallback) (json.RawMessage, error) {
	s.mu.Lock()
	if cb.Team.ID == "" {
		cb.Team.ID, cb.Team.Domain = s.cfg.teamID, s.domain()
	}
	if cb.APIAppID == "" {
		cb.APIAppID = DefaultAppID
	}
	s.mu.Unlock()
	payload, err := json.Marshal(&cb) // MarshalJSON has a pointer receiver
	if err != nil {
		return nil, fmt.Errorf("encode interaction: %w", err)
	}
	return s.deliver(ctx, "interactive", payload, true)
}

// SendEvent delivers an Events API payload (the outer event_callback
// object) over Socket Mode and returns the payload of the client's ack.
// Like Slack, it marks the envelope as not accepting a response payload.
func (s *Server) SendEvent(ctx context.Context, eventsAPIPayload json.RawMessage) (json.RawMessage, error) {
	if !json.Valid(eventsAPIPayload) {
		return nil, errors.New("send event: payload is not valid JSON")
	}
	return s.deliver(ctx, "events_api", eventsAPIPayload, false)
}

// deliver sends one envelope to a live connection and waits for its ack.
func (s *Server) deliver(ctx context.Context, typ string, payload json.RawMessage, acceptsResponse bool) (json.RawMessage, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultAckTimeout)
		defer cancel()
	}
	env := envelope{
		EnvelopeID:             newEnvelopeID(),
		Type:                   typ,
		Payload:                payload,
		AcceptsResponsePayload: acceptsResponse,
	}
	msg, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode %s envelope: %w", typ, err)
	}

	acked := make(chan json.RawMessage, 1)
	sk := &s.sock
	sk.mu.Lock()
	sk.pending[env.EnvelopeID] = acked
	sk.mu.Unlock()
	defer func() {
		sk.mu.Lock()
		delete(sk.pending, env.EnvelopeID)
		sk.mu.Unlock()
	}()

	c, err := s.liveSocket(ctx)
	if err != nil {
		return nil, fmt.Errorf("send %s envelope: %w", typ, err)
	}
	if err := c.write(msg); err != nil {
		c.close()
		return nil, fmt.Errorf("send %s envelope: %w", typ, err)
	}
	select {
	case ack := <-acked:
		return ack, nil
	case <-c.closed:
		select {
		case ack := <-acked: // the ack won the race with the drop
			return ack, nil
		default:
		}
		return nil, fmt.Errorf("%s envelope %s: connection %d closed before the ack", typ, env.EnvelopeID, c.id)
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for ack of %s envelope %s: %w", typ, env.EnvelopeID, ctx.Err())
	}
}

// newEnvelopeID returns a random UUID-shaped ID like Slack's.
func newEnvelopeID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
