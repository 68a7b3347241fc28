package test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	fslack "github.com/firebreak-ir/firebreak/integrations/slack"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/test/harness"
)

// Planted canaries: the bot token and signing secret must never appear in
// logs, Slack messages or Temporal's database.
const (
	signingSecret = "e2e-signing-secret-CANARY-5b1f"
	botToken      = "xoxb-CANARY-9d2e7a"
)

// slackEnv is firebreak dev wired to a fake Slack.
type slackEnv struct {
	t    *testing.T
	d    *harness.Dev
	fake *slackfake.Server
	dev  string // base URL of the dev HTTP server
	now  func() time.Time
	n    int
}

func startSlackDev(t *testing.T) *slackEnv {
	t.Helper()
	return startSlackDevWith(t, `access:
  groups:
    incident-commanders: [S0ICS]
  invite: [U0SRE, S0ICS]
`)
}

// startSlackDevWith starts firebreak dev with config as firebreak.yaml;
// env entries come last, so they override the defaults here.
func startSlackDevWith(t *testing.T, config string, env ...string) *slackEnv {
	t.Helper()
	fake := newSlackFake(t, slackfake.WithBotTokens(botToken))
	for _, u := range []string{"U0DECL", "U0IC1", "U0IC2", "U0STRANGER", "U0SRE"} {
		fake.AddUser(u, strings.ToLower(u))
	}
	fake.AddUserGroup("S0ICS", "incident-commanders", "U0IC1", "U0IC2")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDev(t, filepath.Join(dir, "data"), append([]string{
		"FIREBREAK_CONFIG=" + cfg, "FIREBREAK_PLAYBOOKS=testdata/playbooks",
		"SLACK_BOT_TOKEN=" + botToken, "SLACK_SIGNING_SECRET=" + signingSecret,
		"SLACK_APP_TOKEN=" + slackfake.DefaultAppToken, "SLACK_API_URL=" + fake.URL()}, env...)...)
	return &slackEnv{t: t, d: d, fake: fake, dev: "http://" + d.HTTPAddr, now: time.Now}
}

// post sends a signed request as Slack would; sign=false sends it unsigned.
func (e *slackEnv) post(path string, form url.Values, headers map[string]string, ts time.Time, sign bool) (int, []byte) {
	e.t.Helper()
	body := []byte(form.Encode())
	req, err := http.NewRequest(http.MethodPost, e.dev+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign {
		slackfake.SignRequest(req, signingSecret, body, ts)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (e *slackEnv) postJSON(path, body string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.dev+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	slackfake.SignRequest(req, signingSecret, []byte(body), e.now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (e *slackEnv) command(user, channelID, channelName, text, trigger string, headers map[string]string) map[string]any {
	e.t.Helper()
	form := slackfake.SlashCommandForm(goslack.SlashCommand{
		Command: "/incident", Text: text, UserID: user, ChannelID: channelID, ChannelName: channelName,
		TriggerID: trigger, ResponseURL: e.fake.NewResponseURL(),
	})
	code, body := e.post("/slack/commands", form, headers, e.now(), true)
	if code != http.StatusOK {
		e.t.Fatalf("%s: HTTP %d %s", text, code, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		e.t.Fatalf("%s: %v: %s", text, err, body)
	}
	return out
}

// click presses a button as user and returns what the bot posted to the
// interaction's response_url.
func (e *slackEnv) click(user string, ch slackfake.Channel, actionID, value string) string {
	e.t.Helper()
	e.n++
	respURL := e.fake.NewResponseURL()
	cb := goslack.InteractionCallback{
		Type: goslack.InteractionTypeBlockActions, TriggerID: "click-" + user + "-" + string(rune('a'+e.n)),
		User: goslack.User{ID: user}, ResponseURL: respURL,
		Channel:        goslack.Channel{GroupConversation: goslack.GroupConversation{Name: ch.Name, Conversation: goslack.Conversation{ID: ch.ID}}},
		ActionCallback: goslack.ActionCallbacks{BlockActions: []*goslack.BlockAction{{ActionID: actionID, Value: value, ActionTs: "1.1"}}},
	}
	form, err := slackfake.InteractionForm(cb)
	if err != nil {
		e.t.Fatal(err)
	}
	if code, body := e.post("/slack/interactions", form, nil, e.now(), true); code != http.StatusOK {
		e.t.Fatalf("click: HTTP %d %s", code, body)
	}
	var got string
	waitFor(e.t, func() bool {
		rs := e.fake.Responses(respURL)
		if len(rs) == 0 {
			return false
		}
		got = string(rs[0])
		return true
	})
	return got
}

func (e *slackEnv) incidentChannel() slackfake.Channel {
	var ch slackfake.Channel
	waitFor(e.t, func() bool {
		for _, c := range e.fake.Channels() {
			if strings.HasPrefix(c.Name, "inc-") {
				ch = c
				return true
			}
		}
		return false
	})
	return ch
}

// messageWith waits for a message in channel whose text or blocks contain s.
func (e *slackEnv) messageWith(channel, s string) slackfake.Message {
	var m slackfake.Message
	waitFor(e.t, func() bool {
		for _, msg := range e.fake.Messages(channel) {
			if strings.Contains(msg.Text, s) || strings.Contains(string(msg.Blocks), s) {
				m = msg
				return true
			}
		}
		return false
	})
	return m
}

func TestSlackIncidentEndToEnd(t *testing.T) {
	e := startSlackDev(t)
	e.fake.AddChannel("C0GENERAL", "general", slackfake.Members(e.fake.BotUserID()))

	// Declare: the workflow, the channel, the summary, the topic, the
	// invites; Slack's first answer to the channel creation is a 429.
	e.fake.InjectRateLimit("conversations.create", 1, time.Second)
	out := e.command("U0DECL", "C0GENERAL", "general", `declare "Checkout is down" sev2`, "trig-declare", nil)
	// The ack does not wait for the key; the declaring channel hears it
	// with the link once the incident's channel exists.
	if out["response_type"] != "in_channel" || !strings.Contains(out["text"].(string), "is declaring *Checkout is down* (SEV2)") {
		t.Fatalf("declare reply: %v", out)
	}
	ch := e.incidentChannel()
	if told := e.messageWith("C0GENERAL", "<#"+ch.ID+">"); !regexp.MustCompile(`declared \*INC-\d{4}-\d{4}\* \(SEV2\): Checkout is down`).MatchString(told.Text) {
		t.Fatalf("declaring channel told: %q", told.Text)
	}
	if !strings.HasSuffix(ch.Name, "-checkout-is-down") {
		t.Fatalf("channel %+v", ch)
	}
	if n := e.fake.Calls("conversations.create"); n != 2 {
		t.Fatalf("conversations.create called %d times, want 2 (one 429, one retry)", n)
	}
	waitFor(t, func() bool {
		c, _ := e.fake.Channel(ch.ID)
		return strings.Contains(c.Topic, "SEV2 INC-") && strings.Contains(c.Topic, "Checkout is down")
	})
	summary := e.messageWith(ch.ID, fslack.ActionResolve)
	if !strings.Contains(string(summary.Blocks), "Checkout is down") {
		t.Fatalf("summary blocks: %s", summary.Blocks)
	}
	waitFor(t, func() bool {
		c, _ := e.fake.Channel(ch.ID)
		return slices.Contains(c.Members, "U0DECL") && slices.Contains(c.Members, "U0SRE") && slices.Contains(c.Members, "U0IC1") && slices.Contains(c.Members, "U0IC2")
	})
	// The summary suggests the library's triage playbooks; a Run click
	// without the required inputs says which are missing.
	if v := buttonValue(t, summary.Blocks, fslack.ActionRunPlaybook); v != "slack-contain" {
		t.Fatalf("suggested playbook %q", v)
	}
	if got := e.click("U0DECL", ch, fslack.ActionRunPlaybook, "slack-contain"); !strings.Contains(got, `input \"host\" is required`) {
		t.Fatalf("run button without inputs: %s", got)
	}

	// Slack's retry of the same command declares nothing new.
	again := e.command("U0DECL", "C0GENERAL", "general", `declare "Checkout is down" sev2`, "trig-declare", map[string]string{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
	if again["text"] != out["text"] {
		t.Fatalf("retry answered differently: %v vs %v", again, out)
	}
	incidents := 0
	for _, c := range e.fake.Channels() {
		if strings.HasPrefix(c.Name, "inc-") {
			incidents++
		}
	}
	if incidents != 1 {
		t.Fatalf("%d incident channels after a retried declare", incidents)
	}

	// Run: the plan first, then the approval request.
	runOut := e.command("U0IC2", ch.ID, ch.Name, "run slack-contain host=i-0abc", "trig-run", nil)
	if !strings.Contains(runOut["text"].(string), "started `slack-contain`") {
		t.Fatalf("run reply: %v", runOut)
	}
	e.messageWith(ch.ID, "snapshot i-0abc") // the plan lists every step
	approval := e.messageWith(ch.ID, fslack.ActionApprove)
	value := buttonValue(t, approval.Blocks, fslack.ActionApprove)

	if got := e.click("U0STRANGER", ch, fslack.ActionApprove, value); !strings.Contains(got, "U0STRANGER is not an approver") || !strings.Contains(got, `"ephemeral"`) {
		t.Fatalf("stranger: %s", got)
	}
	if got := e.click("U0IC2", ch, fslack.ActionApprove, value); !strings.Contains(got, "U0IC2 requested this run") {
		t.Fatalf("requester: %s", got)
	}
	if got := e.click("U0IC1", ch, fslack.ActionApprove, value); !strings.Contains(got, `"replace_original":true`) || !strings.Contains(got, "U0IC1") {
		t.Fatalf("approver: %s", got)
	}
	if got := e.click("U0IC1", ch, fslack.ActionApprove, value); !strings.Contains(got, "already") {
		t.Fatalf("double click: %s", got)
	}
	// The request message itself now shows the decision, without buttons.
	waitFor(t, func() bool {
		for _, m := range e.fake.Messages(ch.ID) {
			if m.TS == approval.TS {
				return strings.Contains(string(m.Blocks), "Approved by") && !strings.Contains(string(m.Blocks), fslack.ActionApprove)
			}
		}
		return false
	})
	// The step runs: the status message ends succeeded, and the incident knows.
	e.messageWith(ch.ID, "succeeded")
	waitFor(t, func() bool {
		st := e.command("U0DECL", ch.ID, ch.Name, "status", "trig-status-"+time.Now().Format("150405.000000"), nil)
		return strings.Contains(st["text"].(string), "`slack-contain` succeeded")
	})

	// Moving the incident along.
	if st := e.command("U0IC1", ch.ID, ch.Name, "status contained", "trig-contained", nil); !strings.Contains(st["text"].(string), "to *contained*") {
		t.Fatalf("status change: %v", st)
	}

	// A note and the timeline.
	e.command("U0DECL", ch.ID, ch.Name, "note customers report 500s", "trig-note", nil)
	tl := e.command("U0DECL", ch.ID, ch.Name, "timeline", "trig-timeline", nil)
	for _, want := range []string{"incident_declared", "approval_vote isolate by <@U0IC1>", "status_changed by <@U0IC1>: declared → contained", "note by <@U0DECL>: customers report 500s"} {
		if !strings.Contains(tl["text"].(string), want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl["text"])
		}
	}

	// The open incident is listed (search attributes), from any channel.
	waitFor(t, func() bool {
		l := e.command("U0DECL", "C0GENERAL", "general", "list", "trig-list-"+time.Now().Format("150405.000000"), nil)
		return strings.Contains(l["text"].(string), strings.ToUpper(strings.Join(strings.Split(ch.Name, "-")[:3], "-")))
	})

	// The message shortcut copies a message onto the timeline.
	msgTS, err := e.fake.AddMessage(ch.ID, "U0SRE", "error rate back to normal at 10:42", "")
	if err != nil {
		t.Fatal(err)
	}
	respURL := e.fake.NewResponseURL()
	form, err := slackfake.InteractionForm(goslack.InteractionCallback{
		Type: goslack.InteractionTypeMessageAction, CallbackID: fslack.ShortcutAddToTimeline, TriggerID: "shortcut-1",
		User: goslack.User{ID: "U0DECL"}, ResponseURL: respURL,
		Channel: goslack.Channel{GroupConversation: goslack.GroupConversation{Name: ch.Name, Conversation: goslack.Conversation{ID: ch.ID}}},
		Message: goslack.Message{Msg: goslack.Msg{Text: "error rate back to normal at 10:42", User: "U0SRE", Timestamp: msgTS}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := e.post("/slack/interactions", form, nil, e.now(), true); code != http.StatusOK {
		t.Fatalf("shortcut: %d %s", code, body)
	}
	waitFor(t, func() bool {
		tl := e.command("U0DECL", ch.ID, ch.Name, "timeline", "trig-tl-"+time.Now().Format("150405.000000"), nil)
		return strings.Contains(tl["text"].(string), "error rate back to normal at 10:42 (message by U0SRE)")
	})

	// Events API: the URL check, and a mention answered in its thread.
	code, body := e.postJSON("/slack/events", `{"type":"url_verification","challenge":"c-123","token":"x"}`)
	if code != http.StatusOK || string(body) != "c-123" {
		t.Fatalf("url_verification: %d %q", code, body)
	}
	mentionTS, err := e.fake.AddMessage(ch.ID, "U0DECL", "<@"+e.fake.BotUserID()+"> status", "")
	if err != nil {
		t.Fatal(err)
	}
	code, body = e.postJSON("/slack/events", `{"type":"event_callback","event_id":"Ev1","team_id":"T0TEST001","event":{"type":"app_mention","user":"U0DECL","text":"<@`+e.fake.BotUserID()+`> status","ts":"`+mentionTS+`","channel":"`+ch.ID+`"}}`)
	if code != http.StatusOK {
		t.Fatalf("app_mention: %d %s", code, body)
	}
	waitFor(t, func() bool {
		for _, m := range e.fake.Messages(ch.ID) {
			if m.ThreadTS == mentionTS && strings.Contains(m.Text, "Checkout is down") {
				return true
			}
		}
		return false
	})

	// Socket Mode reaches the same handlers.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.fake.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	ack, err := e.fake.SendSlashCommand(ctx, goslack.SlashCommand{Command: "/incident", Text: "status", UserID: "U0DECL", ChannelID: ch.ID, ChannelName: ch.Name, TriggerID: "sock-1"})
	if err != nil || !strings.Contains(string(ack), "Checkout is down") {
		t.Fatalf("socket mode status: %v %s", err, ack)
	}
	e.fake.DisconnectAll()
	ack, err = e.fake.SendSlashCommand(ctx, goslack.SlashCommand{Command: "/incident", Text: "help", UserID: "U0DECL", ChannelID: ch.ID, ChannelName: ch.Name, TriggerID: "sock-2"})
	if err != nil || !strings.Contains(string(ack), "declare") {
		t.Fatalf("socket mode after reconnect: %v %s", err, ack)
	}
	e.assertNoSecrets()
}

// assertNoSecrets stops firebreak and looks for the planted canaries in
// everything it wrote: its log, the messages it posted, and every file of
// the Temporal database.
func (e *slackEnv) assertNoSecrets() {
	e.t.Helper()
	if err := e.d.Stop(10 * time.Second); err != nil {
		e.t.Fatal(err)
	}
	canaries := []string{botToken, signingSecret, strings.TrimPrefix(botToken, "xoxb-"), "CANARY"}
	var places []string
	if out := e.d.Output(); out != "" {
		places = append(places, "log")
		for _, c := range canaries {
			if strings.Contains(out, c) {
				e.t.Errorf("canary %q in the log", c)
			}
		}
	}
	for _, ch := range e.fake.Channels() {
		for _, m := range e.fake.Messages(ch.ID) {
			for _, c := range canaries {
				if strings.Contains(m.Text, c) || strings.Contains(string(m.Blocks), c) {
					e.t.Errorf("canary %q posted to #%s", c, ch.Name)
				}
			}
		}
	}
	err := filepath.WalkDir(e.d.DataDir, func(path string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		places = append(places, filepath.Base(path))
		for _, c := range canaries {
			if bytes.Contains(b, []byte(c)) {
				e.t.Errorf("canary %q persisted in %s", c, path)
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(places) < 2 {
		e.t.Fatalf("looked in too few places: %v", places)
	}
}

func TestSlackRejectsUnverifiedRequests(t *testing.T) {
	e := startSlackDev(t)
	form := slackfake.SlashCommandForm(goslack.SlashCommand{Command: "/incident", Text: "help", UserID: "U0DECL", TriggerID: "t1"})
	now := time.Now()
	if code, _ := e.post("/slack/commands", form, nil, now, false); code != http.StatusUnauthorized {
		t.Errorf("unsigned: %d", code)
	}
	if code, _ := e.post("/slack/commands", form, map[string]string{"X-Slack-Signature": "v0=deadbeef"}, now, true); code != http.StatusUnauthorized {
		t.Errorf("wrongly signed: %d", code)
	}
	if code, _ := e.post("/slack/commands", form, nil, now.Add(-6*time.Minute), true); code != http.StatusUnauthorized {
		t.Errorf("stale: %d", code)
	}
	// The same signed request twice: the replay is refused.
	body := []byte(form.Encode())
	req, _ := http.NewRequest(http.MethodPost, e.dev+"/slack/commands", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	slackfake.SignRequest(req, signingSecret, body, now)
	sig, stamp := req.Header.Get("X-Slack-Signature"), req.Header.Get("X-Slack-Request-Timestamp")
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		r, _ := http.NewRequest(http.MethodPost, e.dev+"/slack/commands", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Slack-Signature", sig)
		r.Header.Set("X-Slack-Request-Timestamp", stamp)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("attempt %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	for _, path := range []string{"/slack/interactions", "/slack/events"} {
		if code, _ := e.post(path, url.Values{"payload": {"{}"}}, nil, now, false); code != http.StatusUnauthorized {
			t.Errorf("%s unsigned: %d", path, code)
		}
	}
}

// buttonValue finds the value of the button with actionID in blocks.
func buttonValue(t *testing.T, blocks json.RawMessage, actionID string) string {
	t.Helper()
	var bs []map[string]any
	if err := json.Unmarshal(blocks, &bs); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		els, _ := b["elements"].([]any)
		if acc, ok := b["accessory"]; ok {
			els = append(els, acc)
		}
		for _, el := range els {
			m, _ := el.(map[string]any)
			if m["action_id"] == actionID {
				return m["value"].(string)
			}
		}
	}
	t.Fatalf("no %s button in %s", actionID, blocks)
	return ""
}

// TestSlackRefusals covers what people get wrong: every refusal is an
// ephemeral reply that says what and why, and changes nothing.
func TestSlackRefusals(t *testing.T) {
	e := startSlackDevWith(t, `access:
  responders: [U0IC1, U0DECL]
  commanders: [S0ICS]
  groups:
    incident-commanders: [S0ICS]
`)
	e.command("U0DECL", "C0GENERAL", "general", `declare "Disk full" sev3`, "trig-d", nil)
	ch := e.incidentChannel()
	waitFor(t, func() bool {
		st := e.command("U0DECL", ch.ID, ch.Name, "status", "trig-s-"+time.Now().Format("150405.000000"), nil)
		return strings.Contains(st["text"].(string), "Disk full")
	})
	n := 0
	ask := func(user, channelID, channelName, text string) string {
		n++
		out := e.command(user, channelID, channelName, text, "trig-r-"+string(rune('a'+n)), nil)
		if out["response_type"] != "ephemeral" {
			t.Errorf("%q: a refusal must be ephemeral, got %v", text, out)
		}
		return out["text"].(string)
	}
	for _, c := range []struct {
		user, text, want string
		inIncident       bool
	}{
		{"U0DECL", "frobnicate", "frobnicate", false},
		{"U0DECL", "status", "works in an incident channel", false},
		{"U0DECL", "run nope", "No playbook named `nope`", true},
		{"U0DECL", "run slack-contain host=not-a-host", `input "host"`, true},
		{"U0DECL", "run slack-contain", `input "host" is required`, true},
		{"U0STRANGER", "run slack-contain host=i-1", "not allowed to run playbooks", true},
		{"U0STRANGER", "sev sev1", "You are not allowed to change the severity here. Ask <@U0IC1> <@U0DECL> <!subteam^S0ICS>.", true},
		{"U0STRANGER", "resolve", "You are not allowed to resolve incidents here. Ask <!subteam^S0ICS>.", true},
		{"U0DECL", "approve isolate", "No step `isolate` is waiting for approval in INC-", true},
		{"U0IC1", "abort", "No playbook is running", true},
		{"U0DECL", "done collect-evidence", "has a task `collect-evidence` waiting", true},
		{"U0DECL", "sev sev3", "is already SEV3", true},
		{"U0DECL", "role captain <@U0IC1>", "role", true},
	} {
		chID, chName := "C0GENERAL", "general"
		if c.inIncident {
			chID, chName = ch.ID, ch.Name
		}
		if got := ask(c.user, chID, chName, c.text); !strings.Contains(got, c.want) {
			t.Errorf("%s %q: want %q in %q", c.user, c.text, c.want, got)
		}
	}
	// A look-alike channel (same name, another ID) cannot steer the incident.
	if got := e.command("U0DECL", "C0FAKE", ch.Name, "note from elsewhere", "trig-fake", nil)["text"].(string); !strings.Contains(got, "not INC-") || !strings.Contains(got, "channel") {
		t.Errorf("look-alike channel: %q", got)
	}

	// A note is open to everyone, and nothing above reached the timeline.
	e.command("U0STRANGER", ch.ID, ch.Name, "note I saw it too", "trig-note", nil)
	tl := e.command("U0DECL", ch.ID, ch.Name, "timeline", "trig-tl", nil)["text"].(string)
	if !strings.Contains(tl, "note by <@U0STRANGER>") || strings.Contains(tl, "severity_changed") || strings.Contains(tl, "playbook_run_started") {
		t.Fatalf("timeline:\n%s", tl)
	}
}

// TestSlackAnswersWhenTemporalIsDown: with Temporal gone, a command still
// gets an answer (Slack shows nothing otherwise), saying to try again.
func TestSlackAnswersWhenTemporalIsDown(t *testing.T) {
	fake := newSlackFake(t, slackfake.WithBotTokens(botToken))
	d := startDev(t, t.TempDir())
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	serve, err := harness.Start(bin, []string{
		"TEMPORAL_ADDRESS=" + d.TemporalAddr, "SLACK_BOT_TOKEN=" + botToken, "SLACK_SIGNING_SECRET=" + signingSecret,
		"SLACK_API_URL=" + fake.URL(), "FIREBREAK_LOG_FORMAT=json",
	}, "serve", "--http", "127.0.0.1:"+itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Stop(10 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := serve.WaitReady(ctx, "http://127.0.0.1:"+itoa(port)+"/readyz"); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	e := &slackEnv{t: t, fake: fake, dev: "http://127.0.0.1:" + itoa(port), now: time.Now}
	for i, text := range []string{"status", "note the database is gone too", `declare "Temporal down" sev1`} {
		out := e.command("U0DECL", "C0INC", "inc-2026-0001-x", text, "down-"+itoa(i), nil)
		got, _ := out["text"].(string)
		if out["response_type"] != "ephemeral" || (!strings.Contains(got, "try again") && !strings.Contains(got, "went wrong")) {
			t.Errorf("%q with Temporal down: %v", text, out)
		}
	}
}
