package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/client"

	fslack "github.com/firebreak-ir/firebreak/integrations/slack"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/test/harness"
	"github.com/firebreak-ir/firebreak/workflows"
)

// fuzzGate is `firebreak dev` on a fake Slack with one run waiting at an
// approval gate: the target of FuzzInteractionPayload.
type fuzzGate struct {
	d        *harness.Dev
	fake     *slackfake.Server
	temporal client.Client
	http     *http.Client
	channel  slackfake.Channel
	run      string
	step     string
	hash     string
	// approvers may really vote on the gate (the requester may not).
	approvers []string
	expand    *strings.Replacer
}

// startFuzzGate starts firebreak dev as startSlackDevWith does, declares an
// incident, runs slack-contain in its channel, and waits for the
// approval request of its isolate step.
func startFuzzGate(tb testing.TB) *fuzzGate {
	tb.Helper()
	fake := newSlackFake(tb, slackfake.WithBotTokens(botToken))
	for _, u := range []string{"U0DECL", "U0IC1", "U0IC2", "U0STRANGER"} {
		fake.AddUser(u, strings.ToLower(u))
	}
	fake.AddUserGroup("S0ICS", "incident-commanders", "U0IC1", "U0IC2")
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte("access:\n  groups:\n    incident-commanders: [S0ICS]\n  invite: [S0ICS]\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	d, err := harness.StartDev(bin, filepath.Join(dir, "data"),
		"FIREBREAK_CONFIG="+cfg, "FIREBREAK_PLAYBOOKS=testdata/playbooks",
		"SLACK_BOT_TOKEN="+botToken, "SLACK_SIGNING_SECRET="+signingSecret, "SLACK_API_URL="+fake.URL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = d.Stop(10 * time.Second)
		if strings.Contains(d.Output(), "WARNING: DATA RACE") {
			tb.Errorf("data race in firebreak dev:\n%s", d.Output())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx, d.URL("/readyz")); err != nil {
		tb.Fatal(err)
	}
	c, err := client.Dial(client.Options{HostPort: d.TemporalAddr, Namespace: "default"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	g := &fuzzGate{d: d, fake: fake, temporal: c, http: &http.Client{Timeout: 10 * time.Second}, approvers: []string{"U0IC1", "U0IC2"}}

	g.command(tb, "U0DECL", "C0GENERAL", "general", `declare "Fuzz target" sev3`, "fuzz-declare")
	fuzzWait(tb, "the incident channel exists", func() bool {
		for _, ch := range fake.Channels() {
			if strings.HasPrefix(ch.Name, "inc-") {
				g.channel = ch
				return true
			}
		}
		return false
	})
	n := 0
	fuzzWait(tb, "the incident answers in its channel", func() bool {
		n++
		return strings.Contains(g.command(tb, "U0DECL", g.channel.ID, g.channel.Name, "status", fmt.Sprintf("fuzz-status-%d", n)), "Fuzz target")
	})
	if got := g.command(tb, "U0DECL", g.channel.ID, g.channel.Name, "run slack-contain host=i-0f0f", "fuzz-run"); !strings.Contains(got, "started `slack-contain`") {
		tb.Fatalf("run: %s", got)
	}
	var value string
	fuzzWait(tb, "the approval request is posted", func() bool {
		for _, m := range fake.Messages(g.channel.ID) {
			if v, ok := fuzzButton(m.Blocks, fslack.ActionApprove); ok {
				value = v
				return true
			}
		}
		return false
	})
	ref, err := fslack.DecodeApprovalRef(value)
	if err != nil {
		tb.Fatal(err)
	}
	g.run, g.step, g.hash = ref.Run, ref.Step, ref.PlanHash
	quoted, _ := json.Marshal(value)
	g.expand = strings.NewReplacer("{{RUN}}", g.run, "{{STEP}}", g.step, "{{HASH}}", g.hash,
		"{{CH}}", g.channel.ID, "{{CHNAME}}", g.channel.Name, "{{VALUE}}", string(quoted[1:len(quoted)-1]), "{{RESPONSE_URL}}", fake.NewResponseURL())
	g.check(tb)
	return g
}

// fuzzWait waits for cond, for a minute at most.
func fuzzWait(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within 60s", what)
		}
		<-time.After(100 * time.Millisecond)
	}
}

// fuzzButton finds the value of the button with actionID in blocks.
func fuzzButton(blocks json.RawMessage, actionID string) (string, bool) {
	var bs []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if json.Unmarshal(blocks, &bs) != nil {
		return "", false
	}
	for _, b := range bs {
		for _, el := range b.Elements {
			if el.ActionID == actionID {
				return el.Value, true
			}
		}
	}
	return "", false
}

// post sends body to path, signed as Slack signs it.
func (g *fuzzGate) post(tb testing.TB, path string, body []byte) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, g.d.URL(path), bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	slackfake.SignRequest(req, signingSecret, body, time.Now())
	resp, err := g.http.Do(req)
	if err != nil {
		select {
		case <-g.d.Done():
			tb.Fatalf("firebreak dev died: %v\n%s", err, g.d.Output())
		default:
		}
		tb.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (g *fuzzGate) command(tb testing.TB, user, channelID, channelName, text, trigger string) string {
	tb.Helper()
	form := slackfake.SlashCommandForm(goslack.SlashCommand{
		Command: "/incident", Text: text, UserID: user, ChannelID: channelID, ChannelName: channelName,
		TriggerID: trigger, ResponseURL: g.fake.NewResponseURL(),
	})
	code, body := g.post(tb, "/slack/commands", []byte(form.Encode()))
	var out struct {
		Text string `json:"text"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
		tb.Fatalf("%s: HTTP %d %s", text, code, body)
	}
	return out.Text
}

// check fails unless firebreak dev is alive and the gate is still open
// with no vote counted.
func (g *fuzzGate) check(tb testing.TB) {
	tb.Helper()
	select {
	case <-g.d.Done():
		tb.Fatalf("firebreak dev exited:\n%s", g.d.Output())
	default:
	}
	resp, err := g.http.Get(g.d.URL("/healthz"))
	if err != nil {
		tb.Fatalf("/healthz: %v", err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := g.temporal.QueryWorkflow(ctx, g.run, "", workflows.QueryStatus)
	if err != nil {
		tb.Fatalf("query the run: %v", err)
	}
	var st workflows.RunStatus
	if err := v.Get(&st); err != nil {
		tb.Fatal(err)
	}
	i := slices.IndexFunc(st.Steps, func(s workflows.StepState) bool { return s.ID == g.step })
	if i < 0 || st.Steps[i].Approval == nil {
		tb.Fatalf("the run has no gate %s: %+v", g.step, st)
	}
	a := st.Steps[i].Approval
	if len(a.Approvers) != 0 || a.RejectedBy != "" || !a.Open {
		tb.Fatalf("a malformed payload counted as a vote: approvers %v, rejected by %q, open %v", a.Approvers, a.RejectedBy, a.Open)
	}
}

// body is what the fuzzer's input becomes on the wire: the payload field
// of a form, or (raw) the whole form body as given.
func (g *fuzzGate) body(input string, raw bool) []byte {
	input = g.expand.Replace(input)
	if raw {
		return []byte(input)
	}
	return []byte(url.Values{"payload": {input}}.Encode())
}

// genuineVote reports whether body is a well-formed vote the gate must
// count: an Approve or Reject click on this gate's button (for Approve,
// on the plan shown), by an approver, in the run's channel, decoded the
// way the bot decodes it. Such inputs are not sent: they are not
// malformed, and counting them is right.
func (g *fuzzGate) genuineVote(body []byte) bool {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return false
	}
	var cb goslack.InteractionCallback
	if json.Unmarshal([]byte(form.Get("payload")), &cb) != nil || cb.Type != goslack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
		return false
	}
	act := cb.ActionCallback.BlockActions[0]
	if act == nil || (act.ActionID != fslack.ActionApprove && act.ActionID != fslack.ActionReject) {
		return false
	}
	ref, err := fslack.DecodeApprovalRef(act.Value)
	if err != nil || ref.Run != g.run || ref.Step != g.step || (act.ActionID == fslack.ActionApprove && ref.PlanHash != g.hash) {
		return false
	}
	return slices.Contains(g.approvers, cb.User.ID) && cb.Channel.ID == g.channel.ID
}

// fuzzClick builds a block_actions payload with placeholders the gate
// expands ({{CH}}, {{RUN}}, ...); "" leaves a field out.
func fuzzClick(user, channelID, channelName, actionID, value string) string {
	p := map[string]any{"type": "block_actions", "trigger_id": "fuzz.1", "api_app_id": slackfake.DefaultAppID, "response_url": "{{RESPONSE_URL}}"}
	if user != "" {
		p["user"] = map[string]any{"id": user}
	}
	if channelID != "" || channelName != "" {
		p["channel"] = map[string]any{"id": channelID, "name": channelName}
	}
	if actionID != "" {
		p["actions"] = []map[string]any{{"action_id": actionID, "block_id": "approval.vote", "value": value, "action_ts": "1.1", "type": "button"}}
	}
	b, _ := json.Marshal(p)
	return string(b)
}

// FuzzInteractionPayload posts signed interaction payloads that are
// malformed or forged to one running firebreak dev whose run waits at an
// approval gate: none may crash it or get a 5xx, and none may count as a
// vote. The seeds cover bad JSON, wrong types, huge values, missing
// users and forged button values (another plan hash, run, step or
// channel, someone who may not vote).
func FuzzInteractionPayload(f *testing.F) {
	g := startFuzzGate(f)
	ref := func(run, step, hash string) string {
		b, _ := json.Marshal(fslack.ApprovalRef{Run: run, Step: step, PlanHash: hash})
		return string(b)
	}
	good := ref("{{RUN}}", "{{STEP}}", "{{HASH}}")
	for _, seed := range []string{
		// Not JSON, or not an object.
		"", "{", "}", "null", "[]", `"block_actions"`, "0", "\x00\xff", strings.Repeat("[", 10000),
		// Wrong types.
		`{"type":1}`, `{"type":"block_actions","user":"U0IC1"}`, `{"type":"block_actions","user":{"id":7}}`,
		`{"type":"block_actions","user":{"id":"U0IC1"},"channel":{"id":"{{CH}}","name":"{{CHNAME}}"},"actions":"approve"}`,
		`{"type":"block_actions","user":{"id":"U0IC1"},"channel":{"id":"{{CH}}","name":"{{CHNAME}}"},"actions":[{"action_id":"firebreak.approve","block_id":"approval.vote","value":{"r":"{{RUN}}"}}]}`,
		`{"type":"block_actions","user":{"id":"U0IC1"},"channel":{"id":"{{CH}}","name":"{{CHNAME}}"},"actions":[null]}`,
		`{"type":"block_actions","user":{"id":"U0IC1"},"channel":{"id":"{{CH}}","name":"{{CHNAME}}"},"actions":[]}`,
		// Missing or empty users.
		fuzzClick("", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good),
		`{"type":"block_actions","user":{"id":""},"channel":{"id":"{{CH}}","name":"{{CHNAME}}"},"actions":[{"action_id":"firebreak.approve","block_id":"approval.vote","value":"{{VALUE}}"}]}`,
		// People who may not vote: a stranger, the requester, look-alike IDs.
		fuzzClick("U0STRANGER", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good),
		fuzzClick("U0STRANGER", "{{CH}}", "{{CHNAME}}", fslack.ActionReject, good),
		fuzzClick("U0DECL", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good),
		fuzzClick("u0ic1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good),
		fuzzClick("U0IC1\u200b", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good),
		fuzzClick("S0ICS", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good),
		// Forged button values from a real approver.
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, ref("{{RUN}}", "{{STEP}}", "deadbeef")),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, ref("{{RUN}}", "{{STEP}}", "")),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, ref("incident-INC-2026-9999/slack-contain-x", "{{STEP}}", "{{HASH}}")),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionReject, ref("incident-INC-2026-9999/slack-contain-x", "{{STEP}}", "{{HASH}}")),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, ref("{{RUN}}", "snapshot", "{{HASH}}")),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionReject, ref("{{RUN}}", "tell", "{{HASH}}")),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, ref("{{RUN}}", "", "{{HASH}}")),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, `{"r":"{{RUN}}","s":"{{STEP}}","h":"{{HASH}}","x":1}`),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good+good),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, `["{{RUN}}","{{STEP}}","{{HASH}}"]`),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, strings.Repeat("A", 100_000)),
		// The right click in the wrong place, or under the wrong name.
		fuzzClick("U0IC1", "C0LOOKALIKE", "{{CHNAME}}", fslack.ActionApprove, good),
		fuzzClick("U0IC1", "C0LOOKALIKE", "general", fslack.ActionReject, good),
		fuzzClick("U0IC1", "", "", fslack.ActionApprove, good),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", "firebreak.approve ", good),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", "FIREBREAK.APPROVE", good),
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionRunPlaybook, good),
		strings.Replace(fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good), "block_actions", "view_submission", 1),
		strings.Replace(fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good), "block_actions", "message_action", 1),
		// Huge: many actions, a body over the 1 MiB limit.
		`{"type":"block_actions","user":{"id":"U0STRANGER"},"channel":{"id":"{{CH}}","name":"{{CHNAME}}"},"actions":[` +
			strings.TrimSuffix(strings.Repeat(`{"action_id":"firebreak.approve","block_id":"approval.vote","value":"{{VALUE}}"},`, 5000), ",") + `]}`,
		fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, strings.Repeat("é", 600_000)),
	} {
		f.Add(seed, false)
	}
	// Whole form bodies: bad encodings, repeated or missing fields.
	for _, seed := range []string{
		"payload=%zz", "payload", "=", "payload=&payload=" + url.QueryEscape(fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good)),
		"payload=" + url.QueryEscape(fuzzClick("U0STRANGER", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good)) + "&payload=" + url.QueryEscape(fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good)),
		"notpayload=" + url.QueryEscape(fuzzClick("U0IC1", "{{CH}}", "{{CHNAME}}", fslack.ActionApprove, good)),
		";payload=x", strings.Repeat("a=b&", 50_000),
	} {
		f.Add(seed, true)
	}
	f.Cleanup(func() { g.check(f) })
	f.Fuzz(func(t *testing.T, input string, raw bool) {
		body := g.body(input, raw)
		if g.genuineVote(body) {
			return
		}
		if code, reply := g.post(t, "/slack/interactions", body); code >= 500 {
			t.Fatalf("HTTP %d for %q: %s", code, body, reply)
		}
		g.check(t)
	})
}
