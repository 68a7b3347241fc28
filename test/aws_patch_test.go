package test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/integrations/aws/awsfake"
	"github.com/firebreak-ir/firebreak/test/harness"
)

// sentCommand is a SendCommand request the fake carried out.
type sentCommand struct {
	DocumentName   string
	InstanceIDs    []string `json:"InstanceIds"`
	Targets        []sentTarget
	Parameters     map[string][]string
	Comment        string
	MaxConcurrency string
	MaxErrors      string
}

// sentTarget is a SendCommand target: tag:Key with any of Values.
type sentTarget struct {
	Key    string
	Values []string
}

// step is the playbook step that sent the command: Firebreak's comment ends with it.
func (c sentCommand) step() string { return c.Comment[strings.LastIndex(c.Comment, " ")+1:] }

// sentCommands are the SendCommand calls the fake carried out, in order.
func sentCommands(t *testing.T, f *awsfake.Server) []sentCommand {
	t.Helper()
	var out []sentCommand
	for _, c := range f.CallsTo("ssm", "SendCommand") {
		if c.ErrorCode != "" {
			continue
		}
		var s sentCommand
		if err := json.Unmarshal(c.Body, &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// sentSteps are the steps of the commands in cmds.
func sentSteps(cmds []sentCommand) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.step())
	}
	return out
}

// ssmInvocations maps each instance a command (by its comment's step) was sent to to its
// invocation's status, as the fake's State holds them; the last such command counts.
func (e *awsEnv) ssmInvocations(step string) map[string]string {
	e.t.Helper()
	b, err := json.Marshal(e.aws.State().SSM)
	if err != nil {
		e.t.Fatal(err)
	}
	var st struct{ Commands []awsfake.SSMCommand }
	if err := json.Unmarshal(b, &st); err != nil {
		e.t.Fatal(err)
	}
	var inv map[string]string
	for _, c := range st.Commands {
		if strings.HasSuffix(c.Comment, " "+step) {
			inv = c.Invocations
		}
	}
	return inv
}

// TestEmergencyPatchEndToEnd drives emergency-patch from Slack against awsfake: a plan sends
// nothing; an approved run scans the fleet, patches the canary, then the fleet, one SSM command
// each, and reports every instance in the channel; a canary that fails stops the run before the
// fleet is touched; with 30% of calls throttled each step still sends one command; failures past
// max_errors stop the fleet step as SSM stops sending, listing the failed instances and those
// never patched. The role's calls are exactly what `playbook iam-policy` grants.
func TestEmergencyPatchEndToEnd(t *testing.T) {
	const pb = "emergency-patch"
	e := startAWSDev(t, "")
	ch := e.declare("Exploited OpenSSL on the web fleet")
	fleet, canary := e.world.Fleet, e.world.Canary
	args := pb + " tag_values=web canary=" + canary + " vulnerability=CVE-2026-0001"

	// Plan: lists the targets, sends nothing.
	before := e.aws.State()
	id := e.startRunID(ch, "plan", args)
	e.waitRunStatus(ch, id, "planned")
	e.runMessage(ch, id, fleet[2])
	if !reflect.DeepEqual(before, e.aws.State()) {
		t.Fatalf("a plan changed AWS:\nbefore %+v\nafter  %+v", before.SSM, e.aws.State().SSM)
	}
	if n := len(e.aws.CallsTo("ssm", "SendCommand")); n != 0 {
		t.Fatalf("a plan sent %d commands", n)
	}

	// Run: scan, canary after approval, fleet; one command each, as the playbook says.
	id = e.startRunID(ch, "run", args)
	e.approve(ch, "canary")
	e.waitRunStatus(ch, id, "succeeded")
	sent := sentCommands(t, e.aws)
	if got := sentSteps(sent); !slices.Equal(got, []string{"scan", "canary", "fleet"}) {
		t.Fatalf("SendCommand for steps %v, want scan, canary, fleet", got)
	}
	tag := []sentTarget{{Key: "tag:PatchGroup", Values: []string{"web"}}}
	for i, want := range []struct {
		op, maxErrors string
		ids           []string
	}{{"Scan", "100%", nil}, {"Install", "0", []string{canary}}, {"Install", "1", nil}} {
		c := sent[i]
		if c.DocumentName != "AWS-RunPatchBaseline" || !slices.Equal(c.Parameters["Operation"], []string{want.op}) || c.MaxErrors != want.maxErrors {
			t.Errorf("%s: %+v", c.step(), c)
		}
		if want.ids != nil && (!slices.Equal(c.InstanceIDs, want.ids) || c.Targets != nil) {
			t.Errorf("%s: sent to %v %v, want instances %v", c.step(), c.InstanceIDs, c.Targets, want.ids)
		}
		if want.ids == nil && (!reflect.DeepEqual(c.Targets, tag) || c.InstanceIDs != nil || c.MaxConcurrency != "10%") {
			t.Errorf("%s: sent to %v %v at %s, want the tag target at 10%%", c.step(), c.InstanceIDs, c.Targets, c.MaxConcurrency)
		}
	}
	report := e.messageWith(ch.ID, "Emergency patch CVE-2026-0001").Text
	for _, want := range []string{"scanned 3 instances", "canary 1 patched (" + canary + ")", "fleet 3 patched, 0 not",
		fleet[0] + " Success", fleet[1] + " Success", fleet[2] + " Success"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q: %s", want, report)
		}
	}

	// A failing canary stops the run there: the fleet is never sent the patch.
	e.aws.SetCommandOutcome(canary, awsfake.CommandOutcome{Status: "Failed", Output: "E: dpkg was interrupted", Failed: 2})
	n := len(sent)
	id = e.startRunID(ch, "run", args)
	e.approve(ch, "canary")
	line := e.waitRunStatus(ch, id, "failed")
	for _, want := range []string{"exceeded max_errors 0", canary + " (Failed)"} {
		if !strings.Contains(line, want) {
			t.Errorf("status of the failed canary's run lacks %q: %s", want, line)
		}
	}
	e.runMessage(ch, id, "exceeded max_errors 0")
	sent = sentCommands(t, e.aws)
	if got := sentSteps(sent[n:]); !slices.Equal(got, []string{"scan", "canary"}) {
		t.Fatalf("after a failed canary: SendCommand for steps %v, want scan, canary", got)
	}
	e.aws.SetCommandOutcome(canary, awsfake.CommandOutcome{})

	// 30% of AWS calls throttled, and a server error on the first poll after the scan is sent:
	// the run completes with one command per step.
	n, calls := len(sent), len(e.aws.Calls())
	e.aws.Throttle(0.3)
	e.failAfter("ssm", "SendCommand", "ListCommands")
	id = e.startRunID(ch, "run", args)
	e.approve(ch, "canary")
	e.waitRunStatus(ch, id, "succeeded")
	e.aws.Throttle(0)
	throttled := 0
	for _, c := range e.aws.Calls()[calls:] {
		if c.ErrorCode == "ThrottlingException" || c.ErrorCode == "Throttling" {
			throttled++
		}
	}
	if throttled == 0 || failedWith(e.aws, calls, "ssm", "ListCommands", "InternalFailure") != 1 {
		t.Fatalf("%d calls throttled, %d ListCommands failed: the faults were not injected", throttled,
			failedWith(e.aws, calls, "ssm", "ListCommands", "InternalFailure"))
	}
	sent = sentCommands(t, e.aws)
	if got := sentSteps(sent[n:]); !slices.Equal(got, []string{"scan", "canary", "fleet"}) {
		t.Errorf("under throttling: SendCommand for steps %v, want scan, canary, fleet once each", got)
	}

	// Failures past max_errors: SSM stops sending the patch and the step fails, naming the
	// failed instances and those never patched. Five instances, one at a time (10%): the
	// first succeeds, the next two fail, and the last two are never sent to.
	extra := []string{"i-0f1ee7000000000a4", "i-0f1ee7000000000a5"}
	for _, x := range extra {
		e.aws.AddManagedInstance(harness.AWSProdAccount, harness.AWSRegion, x, map[string]string{"PatchGroup": "web"})
	}
	for _, x := range fleet[1:] {
		e.aws.SetCommandOutcome(x, awsfake.CommandOutcome{Status: "Failed", Failed: 1})
	}
	n = len(sent)
	id = e.startRunID(ch, "run", args+" max_errors=1")
	e.approve(ch, "canary")
	line = e.waitRunStatus(ch, id, "failed")
	for _, want := range []string{"exceeded max_errors 1", fleet[1] + " (Failed)", fleet[2] + " (Failed)", "not run: " + extra[0] + ", " + extra[1]} {
		if !strings.Contains(line, want) {
			t.Errorf("status of the fleet past max_errors lacks %q: %s", want, line)
		}
	}
	e.runMessage(ch, id, "exceeded max_errors 1")
	sent = sentCommands(t, e.aws)
	if got := sentSteps(sent[n:]); !slices.Equal(got, []string{"scan", "canary", "fleet"}) {
		t.Errorf("past max_errors: SendCommand for steps %v, want scan, canary, fleet once each", got)
	}
	want := map[string]string{fleet[0]: "Success", fleet[1]: "Failed", fleet[2]: "Failed", extra[0]: "Cancelled", extra[1]: "Cancelled"}
	if got := e.ssmInvocations("fleet"); !reflect.DeepEqual(got, want) {
		t.Errorf("the fleet command's invocations %v, want %v", got, want)
	}

	assertPolicyMatches(t, pb, roleCalls(e.aws))
	e.assertNoSecrets()
}
