package test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/workflows"
)

// trustConfig gives every kind of person a list of their own.
const trustConfig = `access:
  declare: [U0DECL, U0RESP, U0CMD]
  notes: [U0NOTE]
  responders: [U0RESP]
  commanders: [U0CMD]
  groups:
    incident-commanders: [U0CMD]
`

// trustPeople are the kinds of person, by Slack user ID. U0IC holds the
// incident's commander role and is on no list.
var trustPeople = map[string]string{
	"stranger":   "U0STRANGER",
	"declarer":   "U0DECL",
	"noter":      "U0NOTE",
	"responder":  "U0RESP",
	"commander":  "U0CMD",
	"incident-c": "U0IC",
}

// policyMarkers are what the policy's refusals say; an answer without
// them got past the policy (the workflow may still refuse for its own
// reasons: a step not waiting, a severity already set).
var policyMarkers = []string{"not allowed to", "'s channel; use", "has no Slack channel yet", "is private"}

func refusedByPolicy(text string) bool {
	return slices.ContainsFunc(policyMarkers, func(m string) bool { return strings.Contains(text, m) })
}

// TestPolicyTableThroughTheBot sends every operation, as every kind of
// person, from the incident's own channel, from a look-alike channel, and
// to an incident with no bound channel, as signed Slack requests to
// firebreak dev, and checks each answer: allowed, or the exact refusal.
func TestPolicyTableThroughTheBot(t *testing.T) {
	e := startSlackDevWith(t, trustConfig)
	for _, u := range []string{"U0NOTE", "U0RESP", "U0CMD", "U0IC"} {
		e.fake.AddUser(u, strings.ToLower(u))
	}
	n := 0
	say := func(user, chID, chName, text string) string {
		n++
		out := e.command(user, chID, chName, text, fmt.Sprintf("trig-table-%d", n), nil)
		s, _ := out["text"].(string)
		return s
	}

	// Incident A, bound to its channel, commanded by U0IC, with a run
	// waiting for approval.
	if got := say("U0RESP", "C0GENERAL", "general", `declare "Trust table" sev3`); refusedByPolicy(got) {
		t.Fatalf("declare: %s", got)
	}
	own := e.boundChannel("Trust table")
	keyA := keyOf(t, own.Name)
	if got := say("U0CMD", own.ID, own.Name, "role commander <@U0IC>"); refusedByPolicy(got) {
		t.Fatalf("appoint: %s", got)
	}
	// Incident B has no channel (as one declared from the CLI): a
	// look-alike channel named after it reaches nothing.
	c := dial(t, e.d.TemporalAddr)
	keyB := "INC-2026-9001"
	if _, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: workflows.IncidentWorkflowID(keyB), TaskQueue: "firebreak"},
		workflows.IncidentWorkflow, workflows.IncidentInput{Key: keyB, Title: "Unbound", Severity: "SEV3", DeclaredBy: "alice", Origin: "cli"}); err != nil {
		t.Fatal(err)
	}
	unbound := slackfake.Channel{ID: "C0UNBOUND", Name: "inc-2026-9001-unbound"}
	other := slackfake.Channel{ID: "C0LOOKALIKE", Name: own.Name}

	type where struct {
		name string
		ch   slackfake.Channel
		// refusal is what an incident operation from here is told.
		refusal string
	}
	wheres := []where{
		{"own channel", own, ""},
		{"other channel", other, fmt.Sprintf("this is not %s's channel; use <#%s>", keyA, own.ID)},
		{"no channel", unbound, keyB + " has no Slack channel yet; wait for it, or use the firebreak CLI"},
	}
	everyone := []string{"stranger", "declarer", "noter", "responder", "commander", "incident-c"}
	responders := []string{"responder", "commander", "incident-c"}
	commanders := []string{"commander", "incident-c"}
	// In order: runs start before resolve is tried (so it is refused for
	// running playbooks, not resolved) and abort comes last.
	ops := []struct {
		op, text  string
		workspace bool
		allowed   []string
		refusal   string // for people not allowed
	}{
		{"declare", `declare "T %s" sev4`, true, []string{"declarer", "responder", "commander"}, "You are not allowed to declare incidents here."},
		{"declare with a playbook", `declare "P %s" sev4 slack-contain host=i-1`, true, []string{"responder", "commander"}, ""},
		{"list", "list", true, everyone, ""},
		{"run", "run slack-contain host=i-1", false, responders, "You are not allowed to run playbooks here."},
		{"plan", "plan slack-contain host=i-2", false, responders, "You are not allowed to plan playbooks here."},
		{"note", "note seen", false, []string{"noter", "responder", "commander", "incident-c"}, "You are not allowed to add notes here."},
		{"severity", "sev 2", false, responders, "You are not allowed to change the severity here."},
		{"status change", "status investigating", false, responders, "You are not allowed to change the status here."},
		{"assign scribe", "role scribe <@U0RESP>", false, responders, "You are not allowed to assign the scribe role here."},
		{"assign comms", "role comms <@U0RESP>", false, responders, "You are not allowed to assign the comms role here."},
		{"assign commander", "role commander <@U0IC>", false, commanders, "You are not allowed to assign the commander role here."},
		{"done", "done evidence", false, responders, "You are not allowed to finish tasks here."},
		{"read status", "status", false, everyone, ""},
		{"read timeline", "timeline", false, everyone, ""},
		{"read plan", "approve isolate", false, everyone, ""},
		{"resolve", "resolve", false, commanders, "You are not allowed to resolve incidents here."},
		{"reject", "reject isolate", false, everyone, ""},
		{"abort", "abort", false, commanders, "You are not allowed to abort runs here."},
	}
	for _, o := range ops {
		for _, w := range wheres {
			for _, who := range everyone {
				text := o.text
				if strings.Contains(text, "%s") {
					text = fmt.Sprintf(text, strings.ReplaceAll(who+" "+w.name, " ", "-"))
				}
				got := say(trustPeople[who], w.ch.ID, w.ch.Name, text)
				allowed := slices.Contains(o.allowed, who)
				switch {
				case !o.workspace && w.refusal != "":
					if !strings.Contains(got, w.refusal) {
						t.Errorf("%s by %s from %s: want %q, got %q", o.op, who, w.name, w.refusal, got)
					}
				case allowed:
					if refusedByPolicy(got) {
						t.Errorf("%s by %s from %s: refused: %q", o.op, who, w.name, got)
					}
				case o.refusal != "":
					if !strings.HasPrefix(got, o.refusal) {
						t.Errorf("%s by %s from %s: want %q, got %q", o.op, who, w.name, o.refusal, got)
					}
				default:
					if !refusedByPolicy(got) {
						t.Errorf("%s by %s from %s: allowed: %q", o.op, who, w.name, got)
					}
				}
			}
		}
	}
	// Refused declares created nothing; allowed ones an incident each.
	waitFor(t, func() bool {
		declared := 0
		for _, ch := range e.fake.Channels() {
			if strings.Contains(ch.Name, "-t-") || strings.Contains(ch.Name, "-p-") {
				declared++
			}
		}
		return declared == 3*3+2*3
	})
	for _, ch := range e.fake.Channels() {
		for _, who := range []string{"stranger", "noter", "incident-c"} {
			if strings.Contains(ch.Name, "-"+who+"-") {
				t.Errorf("a refused declare made #%s", ch.Name)
			}
		}
		if strings.Contains(ch.Name, "-p-declarer-") {
			t.Errorf("a declare with a playbook by a declarer who may not run playbooks made #%s", ch.Name)
		}
	}
}

// boundChannel waits for the first incident's channel and for the
// incident to know it (the channel exists in Slack a moment before).
func (e *slackEnv) boundChannel(title string) slackfake.Channel {
	e.t.Helper()
	ch := e.incidentChannel()
	waitFor(e.t, func() bool {
		st := e.command("U0DECL", ch.ID, ch.Name, "status", "trig-bound-"+time.Now().Format("150405.000000"), nil)
		return strings.Contains(st["text"].(string), title)
	})
	return ch
}

// keyOf reads the incident key from its channel's name.
func keyOf(t *testing.T, channel string) string {
	t.Helper()
	parts := strings.SplitN(channel, "-", 4)
	if len(parts) < 3 {
		t.Fatalf("channel %q is not an incident channel", channel)
	}
	return "INC-" + parts[1] + "-" + parts[2]
}

// TestLostRunLetsTheIncidentResolve: a run terminated behind the
// incident's back (it never reports) is noticed, and resolve proceeds.
func TestLostRunLetsTheIncidentResolve(t *testing.T) {
	e := startSlackDevWith(t, `access:
  commanders: [U0IC1]
  groups:
    incident-commanders: [U0IC1, U0IC2]
`)
	e.command("U0DECL", "C0GENERAL", "general", `declare "Lost run" sev2`, "trig-lost-d", nil)
	ch := e.boundChannel("Lost run")
	out := e.command("U0DECL", ch.ID, ch.Name, "run slack-contain host=i-1", "trig-lost-run", nil)
	if refusedByPolicy(out["text"].(string)) {
		t.Fatalf("run: %v", out)
	}
	key := keyOf(t, ch.Name)
	c := dial(t, e.d.TemporalAddr)
	var runID string
	waitFor(t, func() bool {
		v, err := c.QueryWorkflow(context.Background(), workflows.IncidentWorkflowID(key), "", workflows.QueryStatus)
		var st workflows.IncidentState
		if err != nil || v.Get(&st) != nil || len(st.Runs) == 0 {
			return false
		}
		runID = st.Runs[0].ID
		return true
	})
	if got := e.command("U0IC1", ch.ID, ch.Name, "resolve", "trig-lost-r1", nil)["text"].(string); !strings.Contains(got, "playbooks are still running") {
		t.Fatalf("resolve with a live run: %q", got)
	}
	if err := c.TerminateWorkflow(context.Background(), runID, "", "operator cleanup"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		d, err := c.DescribeWorkflowExecution(context.Background(), runID, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
	})
	var got string
	waitFor(t, func() bool {
		got = e.command("U0IC1", ch.ID, ch.Name, "resolve", "trig-lost-r2-"+time.Now().Format("150405.000000"), nil)["text"].(string)
		return strings.Contains(got, "resolved")
	})
	tl := e.command("U0IC1", ch.ID, ch.Name, "timeline", "trig-lost-tl", nil)["text"].(string)
	if !strings.Contains(tl, workflows.EventRunLost) || !strings.Contains(tl, "ended without reporting back: terminated") {
		t.Fatalf("timeline has no lost run:\n%s", tl)
	}
}

// TestPrivateIncidentEndToEnd: a private incident gets a private channel;
// the channel it was declared in and the announce channel learn only that
// it exists; look-alike channels cannot read it.
func TestPrivateIncidentEndToEnd(t *testing.T) {
	e := startSlackDevWith(t, `channels:
  announce: C0ANNOUNCE
`)
	e.fake.AddChannel("C0ANNOUNCE", "incidents", slackfake.Members(slackfake.DefaultBotUserID))
	e.fake.AddChannel("C0GENERAL", "general", slackfake.Members(slackfake.DefaultBotUserID))
	out := e.command("U0DECL", "C0GENERAL", "general", `declare "Payroll insider" sev1 private`, "trig-priv", nil)
	if strings.Contains(fmt.Sprint(out), "Payroll") && out["response_type"] == "in_channel" {
		t.Fatalf("the declare's answer shows a private title to the channel: %v", out)
	}
	ch := e.incidentChannel()
	if !ch.Private {
		t.Fatalf("channel %+v is not private", ch)
	}
	for _, where := range []string{"C0ANNOUNCE", "C0GENERAL"} {
		m := e.messageWith(where, "private")
		if strings.Contains(m.Text, "Payroll") || strings.Contains(m.Text, keyOf(t, ch.Name)) || strings.Contains(m.Text, ch.ID) {
			t.Fatalf("%s was told too much: %q", where, m.Text)
		}
	}
	got := e.command("U0STRANGER", "C0LOOKALIKE", ch.Name, "timeline", "trig-priv-tl", nil)["text"].(string)
	if !strings.Contains(got, "is private") || strings.Contains(got, ch.ID) {
		t.Fatalf("look-alike read of a private incident: %q", got)
	}
	if got := e.command("U0DECL", ch.ID, ch.Name, "status", "trig-priv-st", nil)["text"].(string); !strings.Contains(got, "Payroll insider") {
		t.Fatalf("status from the private channel: %q", got)
	}
}
