package test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
)

// blocked is the IP set's addresses in the fake.
func (e *awsEnv) blocked() []string {
	sets, _ := e.aws.State().WAFv2.(map[string]awsfake.WAFIPSet)
	return sets[e.world.IPSet].Addresses
}

// TestWebAttackBlockEndToEnd drives web-attack-block from Slack: a plan changes nothing; a block
// approved in the channel adds only the new addresses, is extended from chat within its max and
// refused past it, and an abort rolls it back to exactly the set it found; a short block lifts
// itself when its timer runs out; an unknown IP set fails with WAF's own code. The role's calls
// are exactly what `playbook iam-policy` grants.
func TestWebAttackBlockEndToEnd(t *testing.T) {
	e := startAWSDev(t, "")
	ch := e.declare("Credential stuffing on login")
	before := e.aws.State()
	args := "web-attack-block ip_set_arn=" + e.world.IPSet + " addresses=203.0.113.50,192.0.2.1"

	// Plan: the plan is posted, nothing changes.
	e.run(ch, "plan", args+" duration=1h")
	e.messageWith(ch.ID, "203.0.113.50/32")
	e.waitRun(ch, "web-attack-block", "planned")
	if !reflect.DeepEqual(before, e.aws.State()) {
		t.Fatalf("a plan changed AWS:\nbefore %+v\nafter  %+v", before.WAFv2, e.aws.State().WAFv2)
	}

	// Run: block after approval; 192.0.2.1 was already blocked and is not claimed.
	e.run(ch, "run", args+" duration=1h")
	e.approve(ch, "block")
	waitFor(t, func() bool { return slices.Contains(e.blocked(), "203.0.113.50/32") })
	if got := e.blocked(); !slices.Equal(got, []string{"192.0.2.1/32", "203.0.113.50/32"}) {
		t.Fatalf("blocked %v", got)
	}
	// Extend from chat, within max; past max is refused with the reason.
	var ext map[string]any
	waitFor(t, func() bool {
		ext = e.command("U0SRE", ch.ID, ch.Name, "extend hold 2h attack still going", "trig-ext-"+nowTag(), nil)
		return !strings.Contains(ext["text"].(string), "not waiting")
	})
	if txt := ext["text"].(string); ext["response_type"] != "in_channel" || !strings.Contains(txt, "extended `hold` by 2h") {
		t.Fatalf("extend: %v", ext)
	}
	if txt := e.command("U0SRE", ch.ID, ch.Name, "extend hold 800h", "trig-ext-far", nil)["text"].(string); !strings.Contains(txt, "latest") {
		t.Fatalf("extend past max: %q", txt)
	}
	// Not allowed: someone outside the incident, twice, and a responder from another channel.
	for i := range 2 {
		out := e.command("U0STRANGER", ch.ID, ch.Name, "extend hold 12h", fmt.Sprintf("trig-ext-stranger-%d", i), nil)
		if txt := out["text"].(string); out["response_type"] != "ephemeral" || !strings.HasPrefix(txt, "You are not allowed to extend waits here.") {
			t.Fatalf("stranger, try %d: %v", i+1, out)
		}
	}
	if txt := e.command("U0SRE", "C0GENERAL", "general", "extend hold 12h", "trig-ext-general", nil)["text"].(string); !strings.Contains(txt, "works in an incident channel") {
		t.Fatalf("extend from #general: %q", txt)
	}
	// Abort: the rollback unblocks exactly what this run added.
	if out := e.command("U0IC1", ch.ID, ch.Name, "abort false alarm", "trig-abort", nil); !strings.Contains(out["text"].(string), "abort") {
		t.Fatalf("abort: %v", out)
	}
	e.waitRun(ch, "web-attack-block", "aborted")
	if after := e.aws.State(); !reflect.DeepEqual(before, after) {
		t.Fatalf("rollback did not restore the IP set:\nbefore %+v\nafter  %+v", before.WAFv2, after.WAFv2)
	}
	tl := e.timelineText(ch)
	for _, want := range []string{"wait_extended", "by <@U0SRE>", "compensat"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	if n := strings.Count(tl, "wait_extended"); n != 1 {
		t.Errorf("%d wait_extended events, want 1 (the refused ones change nothing):\n%s", n, tl)
	}

	// A short block lifts itself when its timer runs out, leaving the set as it was.
	e.run(ch, "run", args+" duration=2s")
	e.approve(ch, "block")
	e.waitRun(ch, "web-attack-block", "succeeded")
	if after := e.aws.State(); !reflect.DeepEqual(before, after) {
		t.Fatalf("after the timer: %+v", after.WAFv2)
	}
	if n := successfulCalls(e.aws, "wafv2", "UpdateIPSet"); n != 4 {
		t.Errorf("%d UpdateIPSet calls, want 4 (block and unblock, twice)", n)
	}
	assertPolicyMatches(t, "web-attack-block", roleCalls(e.aws))

	// An IP set that does not exist: the plan an approver would see already fails, with WAF's
	// code and message on the timeline, and nothing changes.
	e.run(ch, "run", "web-attack-block addresses=203.0.113.9 ip_set_arn="+strings.Replace(e.world.IPSet, "blocked-attackers", "gone", 1))
	e.waitRun(ch, "web-attack-block", "failed")
	if st := e.command("U0DECL", ch.ID, ch.Name, "status", "trig-st-gone", nil)["text"].(string); !strings.Contains(st, "WAFNonexistentItemException") {
		t.Errorf("status lacks WAF's error code:\n%s", st)
	}
	e.messageWith(ch.ID, "WAFNonexistentItemException") // the run's own status message says why
	if after := e.aws.State(); !reflect.DeepEqual(before, after) {
		t.Fatalf("a failed block changed the set: %+v", after.WAFv2)
	}
	e.assertNoSecrets()
}
