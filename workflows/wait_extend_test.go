package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// blockPlaybook is web-attack-block's shape: block, hold for a duration
// responders may extend up to max, unblock.
const blockPlaybook = header + `
inputs:
  duration: {type: duration, default: 24h}
steps:
  - id: block
    action: core.log
    with: {message: block}
  - id: hold
    wait: {duration: "${{ inputs.duration }}", extendable: true, max: 3d}
  - id: unblock
    action: core.log
    with: {message: unblock}
`

// extend sends an extend_wait update at the given time.
func (h *harness) extend(at time.Duration, x WaitExtension) *updateOutcome {
	return h.update(at, UpdateExtendWait, func() any { return x })
}

// cliExtend is an extension from the CLI: an operator, as the policy sees it.
func cliExtend(step, by, reason string) WaitExtension {
	return WaitExtension{StepID: step, By: by, Actor: "alice", Reason: reason, Origin: policy.OriginCLI}
}

// stepByID finds a step in a result or a status.
func stepByID(t *testing.T, steps []StepState, id string) StepState {
	t.Helper()
	for _, s := range steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", id, steps)
	return StepState{}
}

// waited is how long the step waited, from the run's clock.
func waited(t *testing.T, res PlaybookResult, id string) time.Duration {
	t.Helper()
	s := stepByID(t, res.Steps, id)
	return s.EndedAt.Sub(s.StartedAt)
}

func TestExtendableWaitEndsOnTime(t *testing.T) {
	h := newHarness(t)
	var during StepState
	h.env.RegisterDelayedCallback(func() { during = stepByID(t, h.status().Steps, "hold") }, time.Hour)
	res := h.run(load(t, blockPlaybook), nil, "")
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	if got := waited(t, res, "hold"); got != 24*time.Hour {
		t.Fatalf("hold waited %s, want the input's 24h", got)
	}
	if h.executed[len(h.executed)-1] != "unblock:core.log" {
		t.Fatalf("executed %v", h.executed)
	}
	// While it waits, the status shows the end, that it can be extended,
	// and how far.
	if during.Status != StepWaiting || !during.Extendable ||
		during.Until.Sub(during.StartedAt) != 24*time.Hour || during.Latest.Sub(during.StartedAt) != 72*time.Hour {
		t.Fatalf("status while waiting: %+v", during)
	}
	started := eventsOf(h.timeline(), EventWaitStarted)
	if len(started) != 1 || !strings.Contains(started[0].Detail, "for 24h, until ") || !strings.Contains(started[0].Detail, "extendable up to 72h in all") {
		t.Fatalf("wait_started: %+v", started)
	}
}

func TestExtendWaitDelaysTheNextStep(t *testing.T) {
	h := newHarness(t)
	first := h.extend(2*time.Hour, cliExtend("hold", "24h", "attack still going"))
	second := h.extend(30*time.Hour, cliExtend("hold", "3600", "")) // seconds
	var during StepState
	h.env.RegisterDelayedCallback(func() { during = stepByID(t, h.status().Steps, "hold") }, 31*time.Hour)
	res := h.run(load(t, blockPlaybook), nil, "")
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	if first.rejected != nil || second.rejected != nil {
		t.Fatalf("extensions refused: %v / %v", first.rejected, second.rejected)
	}
	// Extensions add to the end, not to now: 24h + 24h + 1h.
	if got := waited(t, res, "hold"); got != 49*time.Hour {
		t.Fatalf("hold waited %s, want 49h", got)
	}
	hold, unblock := stepByID(t, res.Steps, "hold"), stepByID(t, res.Steps, "unblock")
	if !unblock.StartedAt.Equal(hold.EndedAt) {
		t.Fatalf("unblock started at %s, hold ended at %s", unblock.StartedAt, hold.EndedAt)
	}
	got, ok := first.result.(WaitExtended)
	if !ok || got.StepID != "hold" || got.By != "24h" || got.Until.Sub(hold.StartedAt) != 48*time.Hour || got.Latest.Sub(hold.StartedAt) != 72*time.Hour {
		t.Fatalf("first extension answered %#v", first.result)
	}
	if during.Until.Sub(during.StartedAt) != 49*time.Hour || !during.Extendable {
		t.Fatalf("status after two extensions: %+v", during)
	}
	ext := eventsOf(h.timeline(), EventWaitExtended)
	if len(ext) != 2 {
		t.Fatalf("%d wait_extended events, want 2", len(ext))
	}
	wantEnd := stamp(hold.StartedAt.Add(48 * time.Hour))
	if e := ext[0]; e.Actor != "alice" || e.Step != "hold" || e.Origin != policy.OriginCLI || e.Outcome != "extended" ||
		e.Detail != "by 24h, until "+wantEnd+": attack still going" {
		t.Fatalf("first wait_extended: %+v", e)
	}
	if e := ext[1]; e.Detail != "by 1h, until "+stamp(hold.StartedAt.Add(49*time.Hour)) {
		t.Fatalf("second wait_extended: %+v", e)
	}
}

// TestExtendWaitUpToMax: the whole wait may reach max exactly, and not a
// second more.
func TestExtendWaitUpToMax(t *testing.T) {
	h := newHarness(t)
	toMax := h.extend(time.Hour, cliExtend("hold", "2d", ""))
	beyond := h.extend(2*time.Hour, cliExtend("hold", "1s", ""))
	res := h.run(load(t, blockPlaybook), nil, "")
	if toMax.rejected != nil {
		t.Fatalf("extension to max refused: %v", toMax.rejected)
	}
	if beyond.rejected == nil || !strings.Contains(beyond.rejected.Error(), "it cannot be extended any further") {
		t.Fatalf("extension past max: %v", beyond.rejected)
	}
	if got := waited(t, res, "hold"); got != 72*time.Hour {
		t.Fatalf("hold waited %s, want max, 72h", got)
	}
}

func TestExtendWaitRefusals(t *testing.T) {
	pb := load(t, header+`
inputs:
  duration: {type: duration, default: 24h}
steps:
  - id: block
    action: core.log
    with: {message: block}
  - id: evidence
    wait: {signal: go}
  - id: hold
    wait: {duration: "${{ inputs.duration }}", extendable: true, max: 3d}
  - id: settle
    wait: {duration: 1m}
  - id: later
    wait: {duration: 1m, extendable: true}
`)
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalResume, Resume{Name: "go"}) }, 0)
	var start time.Time
	h.env.RegisterDelayedCallback(func() { start = stepByID(t, h.status().Steps, "hold").StartedAt }, time.Minute)
	type refusal struct {
		name string
		out  *updateOutcome
		want func() string
	}
	fixed := func(s string) func() string { return func() string { return s } }
	at := 10 * time.Minute
	cases := []refusal{
		{"no actor", h.extend(at, WaitExtension{StepID: "hold", By: "1h", Origin: policy.OriginCLI}), fixed("extending a wait needs the actor's identity")},
		{"unknown step", h.extend(at, cliExtend("nosuch", "1h", "")), fixed(`this run has no step "nosuch"`)},
		{"action step", h.extend(at, cliExtend("block", "1h", "")), fixed("step block is not a timed wait; only `wait: {duration: …}` steps can be extended")},
		{"signal wait", h.extend(at, cliExtend("evidence", "1h", "")), fixed("step evidence is not a timed wait; only `wait: {duration: …}` steps can be extended")},
		{"not extendable", h.extend(at, cliExtend("settle", "1h", "")), fixed("step settle cannot be extended: its playbook does not set wait.extendable: true")},
		{"not waiting yet", h.extend(at, cliExtend("later", "1h", "")), fixed("step later is not waiting (it is pending); only a wait in progress can be extended")},
		{"zero", h.extend(at, cliExtend("hold", "0s", "")), fixed("cannot extend step hold by 0s: an extension must be positive")},
		{"zero seconds", h.extend(at, cliExtend("hold", "0", "")), fixed("cannot extend step hold by 0: an extension must be positive")},
		{"negative", h.extend(at, cliExtend("hold", "-1h", "")), fixed("cannot extend step hold by -1h: an extension must be positive")},
		{"unparsable", h.extend(at, cliExtend("hold", "soon", "")), fixed(`cannot extend step hold by "soon": invalid duration "soon": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`)},
		{"empty", h.extend(at, cliExtend("hold", " ", "")), fixed(`cannot extend step hold by " ": say by how much, e.g. 24h`)},
		{"past max", h.extend(at, cliExtend("hold", "3d", "")), func() string {
			return "extending step hold by 72h would end it at " + stamp(start.Add(96*time.Hour)) +
				", past its limit of 72h from the start (wait.max): the latest allowed end is " + stamp(start.Add(72*time.Hour)) + " (at most 48h more)"
		}},
	}
	res := h.run(pb, nil, "")
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	for _, c := range cases {
		if c.out.rejected == nil || c.out.rejected.Error() != c.want() {
			t.Errorf("%s: refused with %v, want %q", c.name, c.out.rejected, c.want())
		}
	}
	// Refusals change nothing: the wait ends when it would have.
	if got := waited(t, res, "hold"); got != 24*time.Hour {
		t.Fatalf("hold waited %s after refused extensions, want 24h", got)
	}
	if ext := eventsOf(h.timeline(), EventWaitExtended); len(ext) != 0 {
		t.Fatalf("refused extensions reached the timeline: %+v", ext)
	}
}

// TestExtendWaitPolicyFromSlack: in a run bound to a channel, extending
// takes the bot's proof of responder rights (or the incident commander
// role), from that channel.
func TestExtendWaitPolicyFromSlack(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterActivityWithOptions(func(context.Context, RunPlanNotice) error { return nil }, activity.RegisterOptions{Name: ActivityPostRunPlan})
	h.env.RegisterActivityWithOptions(func(context.Context, RunStatusNotice) (SlackPosted, error) {
		return SlackPosted{Channel: "C0INC", TS: "1.1"}, nil
	}, activity.RegisterOptions{Name: ActivityUpdateRunStatus})
	slack := func(user, channel string, holds ...policy.Principal) WaitExtension {
		return WaitExtension{StepID: "hold", By: "1h", Actor: user, Origin: policy.OriginSlack, Channel: channel, Holds: holds}
	}
	at := time.Hour
	stranger := h.extend(at, slack("U_X", "C0INC"))
	lookalike := h.extend(at, slack("U_RESP", "C0FAKE", policy.Responders))
	noChannel := h.extend(at, slack("U_RESP", "", policy.Responders))
	responder := h.extend(at, slack("U_RESP", "C0INC", policy.Responders))
	commander := h.extend(2*time.Hour, slack("U_IC1", "C0INC", policy.IncidentCommander))
	h.env.ExecuteWorkflow(PlaybookWorkflow, PlaybookInput{
		Playbook: load(t, blockPlaybook), Inputs: map[string]any{"duration": "24h"}, Requester: "U_REQ", Origin: "slack",
		Slack: &RunSlack{Channel: "C0INC"}, Incident: map[string]any{"key": "INC-2026-0042"},
	})
	var res PlaybookResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		out  *updateOutcome
		want string
	}{
		"stranger":   {stranger, "you are not allowed to extend waits"},
		"look-alike": {lookalike, "this is not INC-2026-0042's channel; use <#C0INC>"},
		"no channel": {noChannel, "this is not INC-2026-0042's channel; use <#C0INC>"},
	} {
		if c.out.rejected == nil || c.out.rejected.Error() != c.want {
			t.Errorf("%s: refused with %v, want %q", name, c.out.rejected, c.want)
		}
	}
	if responder.rejected != nil || commander.rejected != nil {
		t.Fatalf("allowed extensions refused: %v / %v", responder.rejected, commander.rejected)
	}
	if got := waited(t, res, "hold"); got != 26*time.Hour {
		t.Fatalf("hold waited %s, want 26h", got)
	}
	var who []string
	for _, e := range eventsOf(h.timeline(), EventWaitExtended) {
		if e.Origin != policy.OriginSlack {
			t.Errorf("extension by %s has origin %q", e.Actor, e.Origin)
		}
		who = append(who, e.Actor)
	}
	if strings.Join(who, ",") != "U_RESP,U_IC1" {
		t.Fatalf("extended by %v", who)
	}
}

func TestAbortDuringExtendableWait(t *testing.T) {
	h := newHarness(t)
	extended := h.extend(time.Hour, cliExtend("hold", "24h", ""))
	abort := h.update(2*time.Hour, UpdateAbort, func() any { return AbortRequest{Actor: "U_IC1", Reason: "attack over"} })
	res := h.run(load(t, blockPlaybook), nil, "")
	if extended.rejected != nil || abort.rejected != nil {
		t.Fatalf("updates refused: %v / %v", extended.rejected, abort.rejected)
	}
	if res.Status != RunAborted || !strings.Contains(res.Error, "aborted by U_IC1: attack over") {
		t.Fatalf("status %s, error %q", res.Status, res.Error)
	}
	if st := stepStatus(res); st["hold"] != StepAborted || st["unblock"] != StepPending {
		t.Fatalf("statuses %v", st)
	}
	if got := waited(t, res, "hold"); got != 2*time.Hour {
		t.Fatalf("hold ended %s after it started, want at the abort (2h)", got)
	}
}

// TestValidateExtendAfterAbort: between an abort and the wait noticing it,
// an extension is refused.
func TestValidateExtendAfterAbort(t *testing.T) {
	pb := load(t, blockPlaybook)
	r := newRun(PlaybookInput{Playbook: pb, Requester: "U_REQ"})
	st := r.byID["hold"]
	st.Status, st.Until, st.Latest = StepWaiting, time.Unix(3600, 0), time.Unix(7200, 0)
	r.waits["hold"] = &timedWait{step: &pb.Steps[1], state: st}
	if err := r.validateExtend(nil, cliExtend("hold", "10m", "")); err != nil {
		t.Fatalf("extension of a waiting step: %v", err)
	}
	r.aborted = &AbortRequest{Actor: "U_IC1"}
	err := r.validateExtend(nil, cliExtend("hold", "10m", ""))
	if err == nil || err.Error() != "step hold is not waiting (it is aborted by U_IC1); only a wait in progress can be extended" {
		t.Fatalf("extension after an abort: %v", err)
	}
}

// TestWaitDurationFromTemplate: a template gives the wait's length when
// the step starts; anything but a positive duration fails the step, naming
// it and the value.
func TestWaitDurationFromTemplate(t *testing.T) {
	pb := load(t, header+`
inputs:
  text: {type: string, default: 90m}
steps:
  - id: hold
    wait: {duration: "${{ inputs.text }}"}
  - id: capped
    wait: {duration: "${{ inputs.text }}", extendable: true, max: 2h}
`)
	for _, c := range []struct {
		text   string
		want   string // the run's error; "" for success
		waited time.Duration
	}{
		{"90m", "", 90 * time.Minute},
		{"0s", `step hold: wait.duration ${{ inputs.text }} gave "0s": a wait must be longer than 0s`, 0},
		{"-1h", `step hold: wait.duration ${{ inputs.text }}: invalid duration "-1h": must not be negative`, 0},
		{"soon", `step hold: wait.duration ${{ inputs.text }}: invalid duration "soon": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`, 0},
		{"3h", `step capped: wait.duration ${{ inputs.text }} gave 3h, longer than wait.max (2h)`, 3 * time.Hour},
	} {
		t.Run(c.text, func(t *testing.T) {
			h := newHarness(t)
			res := h.run(pb, map[string]string{"text": c.text}, "")
			if c.want == "" {
				if res.Status != RunSucceeded || waited(t, res, "hold") != c.waited {
					t.Fatalf("status %s (%s), hold waited %s", res.Status, res.Error, waited(t, res, "hold"))
				}
				return
			}
			if res.Status != RunFailed || res.Error != c.want {
				t.Fatalf("status %s, error %q; want failed with %q", res.Status, res.Error, c.want)
			}
			failed := eventsOf(h.timeline(), EventStepFailed)
			if len(failed) != 1 || !strings.Contains(c.want, failed[0].Step+": "+failed[0].Detail) {
				t.Fatalf("step_failed events %+v", failed)
			}
		})
	}
}

// TestPlanShowsTheRenderedWait: a plan shows the length the template gives
// now, and that it can be extended.
func TestPlanShowsTheRenderedWait(t *testing.T) {
	h := newHarness(t)
	res := h.run(load(t, blockPlaybook), nil, ModePlan)
	if res.Plan == nil {
		t.Fatalf("no plan: %s", res.Error)
	}
	for _, s := range res.Plan.Steps {
		if s.ID == "hold" && s.Summary != "wait 24h (${{ inputs.duration }}, extendable up to 72h)" {
			t.Fatalf("hold planned as %q", s.Summary)
		}
	}
}

func TestWaitDurationTemplateThatCannotRender(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: block
    action: core.noop
  - id: hold
    wait: {duration: "${{ steps.block.outputs.expires_in }}", extendable: true}
`)
	res := newHarness(t).run(pb, nil, "")
	want := "step hold: render wait.duration: ${{ steps.block.outputs.expires_in }}: no such key: expires_in"
	if res.Status != RunFailed || res.Error != want {
		t.Fatalf("status %s, error %q; want failed with %q", res.Status, res.Error, want)
	}
}

func TestParseExtension(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"24h": 24 * time.Hour, "1d12h": 36 * time.Hour, "3600": time.Hour, " 90m ": 90 * time.Minute,
		"-1h": -time.Hour, "-30": -30 * time.Second, "0": 0,
	} {
		if got, err := ParseExtension(in); err != nil || got != want {
			t.Errorf("ParseExtension(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"":                    "say by how much, e.g. 24h",
		"soon":                `invalid duration "soon": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`,
		"99999999999999":      "that is too long",
		"9999999999999999999": `invalid duration "9999999999999999999": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`,
	} {
		if _, err := ParseExtension(in); err == nil || err.Error() != want {
			t.Errorf("ParseExtension(%q) error %v, want %q", in, err, want)
		}
	}
}
