package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/workflows"
)

// blockPlaybook holds for the `duration` input, extendable up to 3m in
// all, then unblocks: web-attack-block's shape without AWS.
const blockPlaybook = `apiVersion: firebreak/v1
kind: Playbook
metadata: {name: e2e-block}
inputs:
  duration: {type: duration, default: 45s}
steps:
  - id: hold
    wait: {duration: "${{ inputs.duration }}", extendable: true, max: 3m}
  - id: unblock
    action: core.log
    with: {message: unblocked}
`

var runIDRe = regexp.MustCompile("\\(run `([^`]+)`\\)")

// TestWaitExtendEndToEnd extends a running wait from Slack and from the
// CLI against firebreak dev's real server: refusals say why and change
// nothing, and the durable timer fires at the extended end.
func TestWaitExtendEndToEnd(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "block.yaml"), []byte(blockPlaybook), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startSlackDevWith(t, "access:\n  responders: [U0SRE]\n", "FIREBREAK_PLAYBOOKS="+dir)
	e.fake.AddChannel("C0GENERAL", "general", slackfake.Members(e.fake.BotUserID()))
	e.command("U0DECL", "C0GENERAL", "general", `declare "Credential stuffing" sev2`, "trig-declare", nil)
	ch := e.incidentChannel()
	e.messageWith(ch.ID, "Credential stuffing") // the incident is ready for commands

	started := e.command("U0SRE", ch.ID, ch.Name, "run e2e-block", "trig-run", nil)
	m := runIDRe.FindStringSubmatch(started["text"].(string))
	if m == nil {
		t.Fatalf("run reply: %v", started)
	}
	run := m[1]
	// The run's status message shows the end and how it can be extended.
	e.messageWith(ch.ID, "extendable to")

	text := func(out map[string]any) string { s, _ := out["text"].(string); return s }
	out := e.command("U0SRE", ch.ID, ch.Name, "extend hold 1h", "trig-ext-1", nil)
	if out["response_type"] != "ephemeral" || !strings.Contains(text(out), "`hold` was not extended: extending step hold by 1h would end it at") ||
		!strings.Contains(text(out), "the latest allowed end is") {
		t.Fatalf("extension past max: %v", out)
	}
	out = e.command("U0STRANGER", ch.ID, ch.Name, "extend hold 15s", "trig-ext-2", nil)
	if out["response_type"] != "ephemeral" || !strings.HasPrefix(text(out), "You are not allowed to extend waits here.") {
		t.Fatalf("stranger: %v", out)
	}
	out = e.command("U0SRE", ch.ID, ch.Name, "extend hold 15s still attacking", "trig-ext-3", nil)
	if out["response_type"] != "in_channel" || !strings.HasPrefix(text(out), ":hourglass: <@U0SRE> extended `hold` by 15s, until <!date^") ||
		!strings.HasSuffix(text(out), "Reason: still attacking") {
		t.Fatalf("extension: %v", out)
	}

	env := []string{"TEMPORAL_ADDRESS=" + e.d.TemporalAddr, "FIREBREAK_LOG_LEVEL=warn"}
	if code, out := cli(t, env, "playbook", "status", run); code != 0 || !strings.Contains(out, "extendable up to ") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "playbook", "extend", run, "hold", "5s", "--reason", "from the cli", "--as", "alice"); code != 0 || !strings.HasPrefix(out, "hold extended by 5s: it now ends at ") {
		t.Fatalf("cli extend: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "playbook", "extend", run, "hold", "10m"); code != 1 || !strings.Contains(out, "refused: extending step hold by 10m") || !strings.Contains(out, "the latest allowed end is") {
		t.Fatalf("cli extend past max: exit %d\n%s", code, out)
	}
	if code, out := cli(t, env, "playbook", "extend", run, "unblock", "1m"); code != 1 || !strings.Contains(out, "refused: step unblock is not a timed wait") {
		t.Fatalf("cli extend of an action step: exit %d\n%s", code, out)
	}

	// The timer fires at the extended end: 45s + 15s + 5s.
	var st workflows.RunStatus
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var ok bool
		if st, ok = runStatus(t, env, run); ok && st.Status != workflows.RunRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not finished within 3 minutes: %+v", run, st)
		}
		<-time.After(time.Second)
	}
	if st.Status != workflows.RunSucceeded {
		t.Fatalf("run ended %s: %+v", st.Status, st)
	}
	for _, s := range st.Steps {
		if s.ID != "hold" {
			continue
		}
		if waited := s.EndedAt.Sub(s.StartedAt); waited < 65*time.Second || waited > 75*time.Second {
			t.Fatalf("hold waited %s, want 65s (and a little latency)", waited)
		}
	}
	code, tl := cli(t, env, "playbook", "timeline", run, "--json")
	var ev []workflows.Event
	if code != 0 || json.Unmarshal([]byte(tl), &ev) != nil {
		t.Fatalf("timeline: exit %d\n%s", code, tl)
	}
	var who []string
	for _, x := range ev {
		if x.Kind == workflows.EventWaitExtended {
			who = append(who, x.Actor+"/"+x.Origin)
		}
	}
	if strings.Join(who, ",") != "U0SRE/slack,alice/cli" {
		t.Fatalf("wait_extended events by %v", who)
	}
}
