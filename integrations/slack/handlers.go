package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/firebreak-ir/firebreak/workflows"
)

// Register mounts the bot's HTTP endpoints behind verification.
func (b *Bot) Register(mux *http.ServeMux, v *Verifier) {
	mux.Handle("POST /slack/commands", v.Middleware(http.HandlerFunc(b.serveCommand), b.o.Log))
	mux.Handle("POST /slack/interactions", v.Middleware(http.HandlerFunc(b.serveInteraction), b.o.Log))
	mux.Handle("POST /slack/events", v.Middleware(http.HandlerFunc(b.serveEvent), b.o.Log))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (b *Bot) serveCommand(w http.ResponseWriter, r *http.Request) {
	sc, err := goslack.SlashCommandParse(r)
	if err != nil {
		http.Error(w, "bad slash command", http.StatusBadRequest)
		return
	}
	b.o.Log.Debug("slash command", "user", sc.UserID, "channel", sc.ChannelName, "retry", r.Header.Get("X-Slack-Retry-Num"))
	writeJSON(w, b.HandleCommand(r.Context(), sc))
}

func (b *Bot) serveInteraction(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var cb goslack.InteractionCallback
	if err := json.Unmarshal([]byte(r.PostFormValue("payload")), &cb); err != nil {
		http.Error(w, "bad interaction payload", http.StatusBadRequest)
		return
	}
	resp := b.HandleInteraction(r.Context(), cb)
	w.WriteHeader(http.StatusOK)
	b.respond(cb.ResponseURL, resp)
}

// respond posts to a response_url after the request has been answered,
// so the 3-second budget is spent on the Temporal call alone.
func (b *Bot) respond(responseURL string, resp *reply) {
	if resp == nil || responseURL == "" {
		return
	}
	b.background.Add(1)
	go func() {
		defer b.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		body, err := json.Marshal(resp)
		if err != nil {
			return
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.o.Log.Warn("response_url post failed", "err", withoutURL(err, responseURL))
			return
		}
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			b.o.Log.Warn("response_url post refused", "status", res.StatusCode)
		}
	}()
}

// withoutURL describes a failed request without its URL: a response_url
// is a credential (anyone holding it can post as the app for a while),
// and *url.Error puts the whole URL in its message.
func withoutURL(err error, rawURL string) string {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Op + ": " + ue.Err.Error()
	}
	// The inner error may quote the URL too (a redirect, a parse error).
	if rawURL != "" {
		msg = strings.ReplaceAll(msg, rawURL, "[response_url]")
	}
	if u, perr := url.Parse(rawURL); perr == nil && u.Path != "" && u.Path != "/" {
		msg = strings.ReplaceAll(msg, u.Path, "/[redacted]")
	}
	return msg
}

// HandleInteraction answers a button click or the message shortcut; the
// reply (if any) goes to the interaction's response_url.
func (b *Bot) HandleInteraction(ctx context.Context, cb goslack.InteractionCallback) *reply {
	ctx, cancel := context.WithTimeout(ctx, b.o.CallTimeout)
	defer cancel()
	req := asker{User: cb.User.ID, Channel: cb.Channel.ID, ChannelName: cb.Channel.Name, ID: cb.TriggerID, ResponseURL: cb.ResponseURL}
	switch cb.Type {
	case goslack.InteractionTypeMessageAction:
		if cb.CallbackID != ShortcutAddToTimeline {
			return nil
		}
		return b.addToTimeline(ctx, req, cb)
	case goslack.InteractionTypeBlockActions:
	default:
		return nil
	}
	if len(cb.ActionCallback.BlockActions) == 0 {
		return nil
	}
	act := cb.ActionCallback.BlockActions[0]
	if req.ID == "" {
		req.ID = act.ActionTs
	}
	key, inIncident := incidentKey(req.ChannelName)
	var r reply
	switch act.ActionID {
	case ActionApprove, ActionReject:
		ref, err := DecodeApprovalRef(act.Value)
		if err != nil {
			r = ephemeral("That button is broken; use `/incident approve <step>` instead.")
			break
		}
		// Approval buttons live in the run's channel, so a click without
		// one is not a vote (the run checks the channel only when given).
		if req.Channel == "" {
			r = ephemeral("Votes count only from the run's channel; use the buttons on the approval request there.")
			break
		}
		r = b.vote(ctx, req, key, ref, act.ActionID == ActionApprove, "")
		if r.ReplaceOriginal {
			return &r
		}
	case ActionRunPlaybook:
		if !inIncident {
			r = ephemeral("Run playbooks from the incident channel.")
			break
		}
		r = b.run(ctx, req, key, Command{Verb: "run", Playbook: act.Value})
	case ActionSetSeverity:
		if !inIncident {
			r = ephemeral("Change severity from the incident channel.")
			break
		}
		r = b.change(ctx, req, key, workflows.UpdateSetSeverity, workflows.ChangeRequest{Value: act.SelectedOption.Value})
	case ActionResolve:
		if !inIncident {
			r = ephemeral("Resolve from the incident channel.")
			break
		}
		r = b.change(ctx, req, key, workflows.UpdateResolve, workflows.ChangeRequest{})
	default:
		return nil
	}
	// Everything but an accepted vote answers the clicker alone.
	r.ResponseType, r.ReplaceOriginal = goslack.ResponseTypeEphemeral, false
	return &r
}

func (b *Bot) addToTimeline(ctx context.Context, req asker, cb goslack.InteractionCallback) *reply {
	key, ok := incidentKey(req.ChannelName)
	if !ok {
		r := ephemeral("\"Add to incident timeline\" works on messages in an incident channel (`#inc-…`).")
		return &r
	}
	text := cb.Message.Text
	if text == "" {
		text = "(message without text)"
	}
	// The author is recorded as a plain ID: timeline text is escaped
	// when shown, so it can never turn into a mention.
	if author := cb.Message.User; author != "" {
		text = fmt.Sprintf("%s (message by %s)", text, author)
	}
	if req.ID == "" {
		req.ID = cb.ActionTs
	}
	r := b.change(ctx, req, key, workflows.UpdateNote, workflows.ChangeRequest{Text: text, Source: "slack:" + req.Channel + "/" + cb.Message.Timestamp})
	r.ResponseType = goslack.ResponseTypeEphemeral
	return &r
}

func (b *Bot) serveEvent(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.Body); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	ev, err := slackevents.ParseEvent(body.Bytes(), slackevents.OptionNoVerifyToken())
	if err != nil {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	if ev.Type == slackevents.URLVerification {
		var ch slackevents.ChallengeResponse
		if err := json.Unmarshal(body.Bytes(), &ch); err != nil {
			http.Error(w, "bad challenge", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(ch.Challenge))
		return
	}
	w.WriteHeader(http.StatusOK)
	var outer struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(body.Bytes(), &outer)
	b.HandleEvent(ev, outer.EventID)
}

// HandleEvent reacts to Events API callbacks after they were acked;
// Slack retries unacked events, so each event ID is handled once.
func (b *Bot) HandleEvent(ev slackevents.EventsAPIEvent, eventID string) {
	if ev.Type != slackevents.CallbackEvent || (eventID != "" && !b.events.first(eventID)) {
		return
	}
	mention, ok := ev.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if !ok {
		return
	}
	b.background.Add(1)
	go func() {
		defer b.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		text := mention.Text
		if i := strings.Index(text, ">"); strings.HasPrefix(text, "<@") && i > 0 {
			text = strings.TrimSpace(text[i+1:])
		}
		info, err := b.o.API.GetConversationInfoContext(ctx, &goslack.GetConversationInfoInput{ChannelID: mention.Channel})
		name := ""
		if err == nil {
			name = info.Name
		}
		r := b.HandleCommand(ctx, goslack.SlashCommand{
			Text: text, UserID: mention.User, ChannelID: mention.Channel, ChannelName: name, TriggerID: "event-" + eventID,
		})
		thread := mention.ThreadTimeStamp
		if thread == "" {
			thread = mention.TimeStamp
		}
		opts := []goslack.MsgOption{goslack.MsgOptionText(r.Text, false), goslack.MsgOptionTS(thread)}
		if len(r.Blocks) > 0 {
			opts = append(opts, goslack.MsgOptionBlocks(r.Blocks...))
		}
		if _, _, err := b.o.API.PostMessageContext(ctx, mention.Channel, opts...); err != nil {
			b.o.Log.Warn("reply to mention failed", "err", err)
		}
	}()
}

// seen remembers recent IDs, bounded, to drop duplicates.
type seen struct {
	mu    sync.Mutex
	max   int
	order []string
	set   map[string]bool
}

func newSeen(max int) *seen { return &seen{max: max, set: map[string]bool{}} }

// first reports whether id is new, and remembers it.
func (s *seen) first(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set[id] {
		return false
	}
	s.set[id] = true
	s.order = append(s.order, id)
	if len(s.order) > s.max {
		delete(s.set, s.order[0])
		s.order = s.order[1:]
	}
	return true
}
