package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// testGroups are the approver groups every test run resolves against.
var testGroups = activities.StaticGroups{
	"incident-commanders":  {"U_IC1", "U_IC2", "U_REQ"},
	"engineering-managers": {"U_EM"},
}

func registry(t testing.TB) *activities.Registry {
	t.Helper()
	// Every action the binary has, so the shipped library loads; tests only run core ones.
	reg, err := activities.NewRegistry(slices.Concat(activities.CoreActions(), activities.AWSActions(nil), activities.SlackActions(nil))...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func load(t testing.TB, src string) *playbooks.Playbook {
	t.Helper()
	pb, err := playbooks.Parse([]byte(src), "test.yaml", registry(t))
	if err != nil {
		t.Fatalf("load playbook: %v", err)
	}
	return pb
}

// harness drives one PlaybookWorkflow in the testsuite, with the real
// activities and time skipping.
type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	// executed lists ExecuteAction calls as "step:action" in call order.
	executed []string
	planned  []string
	updates  int
}

func newHarness(t *testing.T) *harness {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	h := &harness{t: t, env: s.NewTestWorkflowEnvironment()}
	h.env.RegisterWorkflow(PlaybookWorkflow)
	h.env.RegisterActivity(&activities.Steps{Registry: registry(t), Groups: testGroups})
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		var in activities.ActionInput
		if err := args.Get(&in); err != nil {
			return
		}
		switch info.ActivityType.Name {
		case "ExecuteAction":
			h.executed = append(h.executed, in.StepID+":"+in.Action)
		case "PlanAction":
			h.planned = append(h.planned, in.StepID)
		}
	})
	return h
}

func (h *harness) run(pb *playbooks.Playbook, inputs map[string]string, mode string) PlaybookResult {
	h.t.Helper()
	vals, err := playbooks.ResolveInputs(pb, inputs)
	if err != nil {
		h.t.Fatal(err)
	}
	// The harness plays the Slack bot: requests and votes it verified.
	h.env.ExecuteWorkflow(PlaybookWorkflow, PlaybookInput{Playbook: pb, Inputs: vals, Mode: mode, Requester: "U_REQ", Origin: "slack"})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	var res PlaybookResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatalf("workflow error: %v", err)
	}
	return res
}

func (h *harness) status() RunStatus {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryStatus)
	if err != nil {
		h.t.Fatal(err)
	}
	var st RunStatus
	if err := v.Get(&st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

func (h *harness) timeline() []Event {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryTimeline)
	if err != nil {
		h.t.Fatal(err)
	}
	var ev []Event
	if err := v.Get(&ev); err != nil {
		h.t.Fatal(err)
	}
	return ev
}

// updateOutcome records what happened to an update sent during the run.
type updateOutcome struct {
	rejected error
	result   any
	done     bool
}

func (h *harness) update(at time.Duration, name string, arg func() any) *updateOutcome {
	out := &updateOutcome{}
	h.updates++
	id := fmt.Sprintf("%s-%d-%d", name, at, h.updates)
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { out.rejected, out.done = err, true },
			OnComplete: func(r any, err error) { out.result, out.done = r, true },
		}, arg())
	}, at)
	return out
}

// vote sends an approve update at the given time, using the plan hash
// the gate shows unless hash is set.
func (h *harness) vote(at time.Duration, step, approver string, approve bool, hash string) *updateOutcome {
	return h.update(at, UpdateApprove, func() any {
		if hash == "" {
			for _, s := range h.status().Steps {
				if s.ID == step && s.Approval != nil {
					hash = s.Approval.PlanHash
				}
			}
		}
		return Vote{StepID: step, Approver: approver, PlanHash: hash, Approve: approve, Origin: "slack"}
	})
}

func stepStatus(res PlaybookResult) map[string]string {
	out := map[string]string{}
	for _, s := range res.Steps {
		out[s.ID] = s.Status
	}
	return out
}

func kinds(ev []Event) []string {
	var out []string
	for _, e := range ev {
		out = append(out, e.Kind+":"+e.Step)
	}
	return out
}

func mustHaveInOrder(t *testing.T, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("missing %q (in order) in:\n%s", want[i], strings.Join(got, "\n"))
	}
}

const header = "apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: t}\n"

func TestActionStepsTemplatesAndOutputs(t *testing.T) {
	pb := load(t, header+`
inputs:
  who: {type: string, required: true}
steps:
  - id: first
    action: core.log
    with: {message: "hello ${{ inputs.who }}"}
  - id: second
    action: core.log
    with: {message: "${{ steps.first.outputs.message }} again"}
`)
	h := newHarness(t)
	res := h.run(pb, map[string]string{"who": "world"}, "")
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	if got := res.Outputs["second"]["message"]; got != "hello world again" {
		t.Fatalf("second output: %v", got)
	}
	if !slices.Equal(h.executed, []string{"first:core.log", "second:core.log"}) {
		t.Fatalf("executed %v", h.executed)
	}
	if len(h.planned) != 0 {
		t.Fatalf("a run without approvals must not plan: %v", h.planned)
	}
}

func TestWhenSkips(t *testing.T) {
	pb := load(t, header+`
inputs:
  sev: {type: string, default: sev3}
steps:
  - id: page
    when: inputs.sev == 'sev1'
    action: core.log
    with: {message: page}
  - id: after
    when: steps.page.status == 'skipped'
    action: core.noop
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if st := stepStatus(res); st["page"] != StepSkipped || st["after"] != StepSucceeded {
		t.Fatalf("statuses %v", st)
	}
	mustHaveInOrder(t, kinds(h.timeline()), "step_skipped:page", "step_succeeded:after")
}

func TestRetryPolicyFromStep(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: flaky
    action: core.fail
    with: {message: boom, succeed_on_attempt: 3}
    retry: {max_attempts: 4, initial_interval: 1s}
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	if got := res.Outputs["flaky"]["attempts"]; fmt.Sprint(got) != "3" {
		t.Fatalf("attempts %v", got)
	}
	if len(h.executed) != 3 {
		t.Fatalf("executed %d times, want 3", len(h.executed))
	}
}

func TestFailureStopsAndContinueOnError(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: optional
    action: core.fail
    with: {message: "not fatal"}
    retry: {max_attempts: 1}
    continue_on_error: true
  - id: fatal
    action: core.fail
    with: {message: "fatal"}
    retry: {max_attempts: 2}
  - id: never
    action: core.noop
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if res.Status != RunFailed || !strings.Contains(res.Error, "fatal") {
		t.Fatalf("status %s, error %q", res.Status, res.Error)
	}
	st := stepStatus(res)
	if st["optional"] != StepFailed || st["fatal"] != StepFailed || st["never"] != StepPending {
		t.Fatalf("statuses %v", st)
	}
}

func TestTimeoutBoundsTheStep(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: slow
    action: core.fail
    timeout: 30s
    retry: {max_attempts: 100, initial_interval: 10s, backoff_coefficient: 1}
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if res.Status != RunFailed {
		t.Fatalf("status %s", res.Status)
	}
	if len(h.executed) >= 100 || len(h.executed) < 2 {
		t.Fatalf("attempts %d: the 30s timeout should cut retries short", len(h.executed))
	}
}

const rollbackPlaybook = header + `
on_failure: rollback
steps:
  - id: isolate
    action: core.log
    with: {message: isolate}
    compensate: {action: core.log, with: {message: "release ${{ steps.isolate.outputs.message }}"}}
  - id: snapshot
    action: core.log
    with: {message: snapshot}
    compensate: {action: core.noop}
  - id: untouched
    action: core.noop
  - id: boom
    action: core.fail
    with: {message: boom}
    retry: {max_attempts: 1}
`

func TestRollbackRunsCompensationsInReverse(t *testing.T) {
	h := newHarness(t)
	res := h.run(load(t, rollbackPlaybook), nil, "")
	if res.Status != RunFailed {
		t.Fatalf("status %s", res.Status)
	}
	want := []string{"isolate:core.log", "snapshot:core.log", "untouched:core.noop", "boom:core.fail", "snapshot:core.noop", "isolate:core.log"}
	if !slices.Equal(h.executed, want) {
		t.Fatalf("executed\n%v\nwant\n%v", h.executed, want)
	}
	st := stepStatus(res)
	if st["isolate"] != StepCompensated || st["snapshot"] != StepCompensated || st["untouched"] != StepSucceeded {
		t.Fatalf("statuses %v", st)
	}
	mustHaveInOrder(t, kinds(h.timeline()), "step_failed:boom", "rollback_started:",
		"compensation_started:snapshot", "compensation_succeeded:snapshot",
		"compensation_started:isolate", "compensation_succeeded:isolate", "rollback_finished:", "run_finished:")
}

func TestStopDoesNotRollBack(t *testing.T) {
	h := newHarness(t)
	res := h.run(load(t, strings.Replace(rollbackPlaybook, "on_failure: rollback", "on_failure: stop", 1)), nil, "")
	if res.Status != RunFailed || len(h.executed) != 4 {
		t.Fatalf("status %s, executed %v", res.Status, h.executed)
	}
}

func TestParallelGroup(t *testing.T) {
	pb := load(t, header+`
steps:
  - parallel:
      - id: a
        action: core.log
        with: {message: a}
      - id: b
        action: core.log
        with: {message: b}
  - id: after
    action: core.log
    with: {message: "${{ steps.a.outputs.message }}${{ steps.b.outputs.message }}"}
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if res.Status != RunSucceeded || res.Outputs["after"]["message"] != "ab" {
		t.Fatalf("status %s, outputs %v, error %s", res.Status, res.Outputs, res.Error)
	}
	if st := stepStatus(res); st[res.Steps[0].ID] != StepSucceeded || st["a"] != StepSucceeded || st["b"] != StepSucceeded {
		t.Fatalf("statuses %v", st)
	}
}

const approvalPlaybook = header + `
steps:
  - id: isolate
    action: core.log
    with: {message: "isolate i-123"}
    approval: {group: incident-commanders, min: 2, timeout: 1h}
`

func TestApprovalReleasesAfterDistinctVotes(t *testing.T) {
	h := newHarness(t)
	first := h.vote(time.Minute, "isolate", "U_IC1", true, "")
	second := h.vote(2*time.Minute, "isolate", "U_IC2", true, "")
	res := h.run(load(t, approvalPlaybook), nil, "")
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	if first.rejected != nil || second.rejected != nil {
		t.Fatalf("votes refused: %v, %v", first.rejected, second.rejected)
	}
	if !slices.Equal(h.planned, []string{"isolate"}) {
		t.Fatalf("approval step must be planned once before it runs: %v", h.planned)
	}
	a := res.Steps[0].Approval
	if a == nil || !slices.Equal(a.Approvers, []string{"U_IC1", "U_IC2"}) || a.Plan.Summary != `log "isolate i-123"` {
		t.Fatalf("approval state %+v", a)
	}
	mustHaveInOrder(t, kinds(h.timeline()), "approval_requested:isolate", "approval_vote:isolate", "approval_vote:isolate",
		"approval_granted:isolate", "step_succeeded:isolate")
}

// TestApprovalValidator is the refusal table: each vote must be refused
// with a reason the voter can act on, and leave the gate as it was.
func TestApprovalValidator(t *testing.T) {
	h := newHarness(t)
	pb := load(t, approvalPlaybook+`
  - id: second-gate
    action: core.log
    with: {message: "second"}
    approval: {group: incident-commanders, timeout: 1h}
`)
	cases := []struct {
		name   string
		out    *updateOutcome
		reason string
	}{
		{"non-member", h.vote(1*time.Minute, "isolate", "U_STRANGER", true, ""), "U_STRANGER is not an approver for step isolate"},
		{"requester", h.vote(2*time.Minute, "isolate", "U_REQ", true, ""), "U_REQ requested this run and cannot approve its own step isolate"},
		{"stale plan hash", h.vote(3*time.Minute, "isolate", "U_IC1", true, "0123456789abcdef"), "the plan for step isolate is not the one you approved (you sent plan hash 0123456789ab…"},
		{"no such step", h.vote(4*time.Minute, "nope", "U_IC1", true, "x"), `this run has no step "nope"`},
		{"not waiting yet", h.vote(5*time.Minute, "second-gate", "U_IC1", true, "x"), "step second-gate is not waiting for approval"},
		{"first vote accepted", h.vote(6*time.Minute, "isolate", "U_IC1", true, ""), ""},
		{"duplicate vote", h.vote(7*time.Minute, "isolate", "U_IC1", true, ""), "U_IC1 already voted on step isolate"},
		{"reject", h.vote(8*time.Minute, "isolate", "U_IC2", false, ""), ""},
	}
	res := h.run(pb, nil, "")
	for _, c := range cases {
		if !c.out.done {
			t.Errorf("%s: update never finished", c.name)
			continue
		}
		switch {
		case c.reason == "" && c.out.rejected != nil:
			t.Errorf("%s: refused: %v", c.name, c.out.rejected)
		case c.reason != "" && (c.out.rejected == nil || !strings.Contains(c.out.rejected.Error(), c.reason)):
			t.Errorf("%s: want refusal %q, got %v", c.name, c.reason, c.out.rejected)
		}
	}
	if res.Status != RunRejected || !strings.Contains(res.Error, "rejected by U_IC2") {
		t.Fatalf("status %s, error %q", res.Status, res.Error)
	}
	if st := stepStatus(res); st["isolate"] != StepRejected || st["second-gate"] != StepPending {
		t.Fatalf("statuses %v", st)
	}
	if !slices.Equal(h.executed, nil) {
		t.Fatalf("a rejected step must not execute: %v", h.executed)
	}
}

// TestApprovalTimeoutAborts votes after the gate timed out, while the run
// is still open (a parallel wait holds it): the timeout must have closed
// the gate, so the vote is refused and nothing runs.
func TestApprovalTimeoutAborts(t *testing.T) {
	pb := load(t, header+`
steps:
  - parallel:
      - id: isolate
        action: core.log
        with: {message: "isolate i-123"}
        approval: {group: incident-commanders, min: 2, timeout: 1h}
      - id: hold
        wait: {duration: 3h}
`)
	h := newHarness(t)
	late := h.vote(2*time.Hour, "isolate", "U_IC1", true, "")
	res := h.run(pb, nil, "")
	if res.Status != RunAborted || !strings.Contains(res.Error, "approval timed out") {
		t.Fatalf("status %s, error %q", res.Status, res.Error)
	}
	if !late.done {
		t.Fatal("the late vote was never sent: the run closed before it")
	}
	if late.rejected == nil || !strings.Contains(late.rejected.Error(), "step isolate is no longer waiting for approval (timed out or aborted)") {
		t.Fatalf("a vote after the timeout must be refused as too late, got %v", late.rejected)
	}
	if len(h.executed) != 0 {
		t.Fatalf("a timed-out step must not execute: %v", h.executed)
	}
	mustHaveInOrder(t, kinds(h.timeline()), "approval_requested:isolate", "approval_timed_out:isolate", "run_finished:")
}

func TestApprovalTimeoutEscalates(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: isolate
    action: core.log
    with: {message: "isolate"}
    approval: {group: incident-commanders, timeout: 15m, on_timeout: escalate, escalate: engineering-managers}
`)
	h := newHarness(t)
	early := h.vote(5*time.Minute, "isolate", "U_EM", true, "")
	escalated := h.vote(20*time.Minute, "isolate", "U_EM", true, "")
	res := h.run(pb, nil, "")
	if early.rejected == nil || !strings.Contains(early.rejected.Error(), "not an approver") {
		t.Fatalf("a manager may not approve before escalation: %v", early.rejected)
	}
	if escalated.rejected != nil || res.Status != RunSucceeded {
		t.Fatalf("after escalation: vote %v, status %s %s", escalated.rejected, res.Status, res.Error)
	}
	mustHaveInOrder(t, kinds(h.timeline()), "approval_requested:isolate", "approval_escalated:isolate", "approval_granted:isolate")
}

func TestApprovalEscalationAlsoTimesOut(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: isolate
    action: core.log
    with: {message: "isolate"}
    approval: {group: incident-commanders, timeout: 15m, on_timeout: escalate, escalate: engineering-managers}
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if res.Status != RunAborted {
		t.Fatalf("status %s", res.Status)
	}
	start := h.timeline()[0].Time
	var escalatedAt, timedOutAt time.Duration
	for _, e := range h.timeline() {
		switch e.Kind {
		case EventApprovalEscalated:
			escalatedAt = e.Time.Sub(start)
		case EventApprovalTimedOut:
			timedOutAt = e.Time.Sub(start)
		}
	}
	if escalatedAt != 15*time.Minute || timedOutAt != 30*time.Minute {
		t.Fatalf("escalated at %s, timed out at %s; want 15m and 30m", escalatedAt, timedOutAt)
	}
}

func TestAllowRequester(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: note
    action: core.log
    with: {message: "x"}
    approval: {users: [U_REQ], allow_requester: true}
`)
	h := newHarness(t)
	v := h.vote(time.Minute, "note", "U_REQ", true, "")
	res := h.run(pb, nil, "")
	if v.rejected != nil || res.Status != RunSucceeded {
		t.Fatalf("vote %v, status %s", v.rejected, res.Status)
	}
}

func TestManualTaskCompletedByUpdate(t *testing.T) {
	pb := load(t, header+`
inputs:
  service: {type: string, default: checkout}
steps:
  - id: ack
    manual: {role: commander, task: "Confirm you command ${{ inputs.service }}"}
  - id: after
    action: core.noop
`)
	h := newHarness(t)
	var seenTask string
	h.env.RegisterDelayedCallback(func() {
		for _, s := range h.status().Steps {
			if s.ID == "ack" {
				seenTask = s.Status + ": " + s.Task
			}
		}
	}, time.Minute)
	noActor := h.update(2*time.Minute, UpdateCompleteTask, func() any { return TaskCompletion{StepID: "ack"} })
	wrongStep := h.update(3*time.Minute, UpdateCompleteTask, func() any { return TaskCompletion{StepID: "after", Actor: "U1"} })
	done := h.update(4*time.Minute, UpdateCompleteTask, func() any { return TaskCompletion{StepID: "ack", Actor: "U_IC1", Note: "on it"} })
	res := h.run(pb, nil, "")
	if seenTask != "awaiting_task: Confirm you command checkout" {
		t.Fatalf("status while waiting: %q", seenTask)
	}
	if noActor.rejected == nil || wrongStep.rejected == nil || done.rejected != nil {
		t.Fatalf("updates: %v / %v / %v", noActor.rejected, wrongStep.rejected, done.rejected)
	}
	if res.Status != RunSucceeded || res.Steps[0].Summary != "done by U_IC1: on it" {
		t.Fatalf("status %s, summary %q", res.Status, res.Steps[0].Summary)
	}
}

func TestWaitDurationAndSignal(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: pause
    wait: {duration: 30m}
  - id: evidence
    wait: {signal: evidence-collected}
  - id: after
    action: core.noop
`)
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalResume, Resume{Name: "something-else", Actor: "U1"})
	}, 40*time.Minute)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalResume, Resume{Name: "evidence-collected", Actor: "U1"})
	}, 50*time.Minute)
	res := h.run(pb, nil, "")
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	var pauseDone, evidenceDone time.Duration
	start := h.timeline()[0].Time
	for _, s := range res.Steps {
		switch s.ID {
		case "pause":
			pauseDone = s.EndedAt.Sub(start)
		case "evidence":
			evidenceDone = s.EndedAt.Sub(start)
		}
	}
	if pauseDone != 30*time.Minute || evidenceDone != 50*time.Minute {
		t.Fatalf("pause ended at %s, evidence at %s", pauseDone, evidenceDone)
	}
}

func TestSignalBeforeWaitCounts(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: pause
    wait: {duration: 10m}
  - id: evidence
    wait: {signal: go}
`)
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalResume, Resume{Name: "go"}) }, time.Minute)
	if res := h.run(pb, nil, ""); res.Status != RunSucceeded {
		t.Fatalf("status %s", res.Status)
	}
}

func TestWaitSignalTimeout(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: evidence
    wait: {signal: never}
    timeout: 1h
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if res.Status != RunFailed || !strings.Contains(res.Error, "timed out after 1h") {
		t.Fatalf("status %s, error %q", res.Status, res.Error)
	}
}

func TestAbortDuringWaitRollsBack(t *testing.T) {
	pb := load(t, header+`
on_failure: rollback
steps:
  - id: isolate
    action: core.log
    with: {message: isolate}
    compensate: {action: core.noop}
  - id: pause
    wait: {duration: 2h}
  - id: never
    action: core.noop
`)
	h := newHarness(t)
	noActor := h.update(time.Minute, UpdateAbort, func() any { return AbortRequest{} })
	abort := h.update(10*time.Minute, UpdateAbort, func() any { return AbortRequest{Actor: "U_IC1", Reason: "false alarm"} })
	res := h.run(pb, nil, "")
	if noActor.rejected == nil || abort.rejected != nil {
		t.Fatalf("abort updates: %v / %v", noActor.rejected, abort.rejected)
	}
	if res.Status != RunAborted || !strings.Contains(res.Error, "aborted by U_IC1: false alarm") {
		t.Fatalf("status %s, error %q", res.Status, res.Error)
	}
	if st := stepStatus(res); st["isolate"] != StepCompensated || st["pause"] != StepAborted || st["never"] != StepPending {
		t.Fatalf("statuses %v", st)
	}
	mustHaveInOrder(t, kinds(h.timeline()), "abort_requested:", "compensation_succeeded:isolate", "run_finished:")
}

func TestCancelDuringApproval(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 5*time.Minute)
	res := h.run(load(t, approvalPlaybook), nil, "")
	if res.Status != RunAborted {
		t.Fatalf("status %s", res.Status)
	}
	if len(h.executed) != 0 {
		t.Fatalf("executed %v", h.executed)
	}
}

func TestCallRunsChildPlaybook(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(dir+"/"+name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("parent.yaml", "apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: parent}\n"+`
steps:
  - id: notify
    call:
      playbook: child
      with: {text: "from parent"}
  - id: after
    action: core.log
    with: {message: "${{ steps.notify.outputs.say.message }}"}
`)
	write("child.yaml", "apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: child}\n"+`
inputs:
  text: {type: string, required: true}
steps:
  - id: say
    action: core.log
    with: {message: "${{ inputs.text }}"}
`)
	pbs, err := playbooks.LoadDir(dir, registry(t))
	if err != nil {
		t.Fatal(err)
	}
	var parent *playbooks.Playbook
	for _, p := range pbs {
		if p.Metadata.Name == "parent" {
			parent = p
		}
	}
	h := newHarness(t)
	res := h.run(parent, nil, "")
	if res.Status != RunSucceeded || res.Outputs["after"]["message"] != "from parent" {
		t.Fatalf("status %s, outputs %v, error %s", res.Status, res.Outputs, res.Error)
	}
}

func TestPlanModeChangesNothing(t *testing.T) {
	pb := load(t, header+`
inputs:
  host: {type: string, default: i-123}
steps:
  - id: isolate
    action: core.log
    with: {message: "isolate ${{ inputs.host }}"}
    approval: {group: incident-commanders}
  - id: ack
    manual: {role: commander, task: "check ${{ inputs.host }}"}
  - id: later
    action: core.log
    with: {message: "${{ steps.isolate.outputs.message }}"}
  - id: skipped
    when: "false"
    action: core.noop
`)
	h := newHarness(t)
	res := h.run(pb, nil, ModePlan)
	if res.Status != RunPlanned || res.Plan == nil {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	if len(h.executed) != 0 {
		t.Fatalf("plan mode executed %v", h.executed)
	}
	byID := map[string]PlannedStep{}
	for _, s := range res.Plan.Steps {
		byID[s.ID] = s
	}
	if byID["isolate"].Summary != `log "isolate i-123"` || byID["isolate"].Approval == nil {
		t.Errorf("isolate: %+v", byID["isolate"])
	}
	if byID["ack"].Summary != "manual task for commander: check i-123" {
		t.Errorf("ack: %+v", byID["ack"])
	}
	if byID["later"].Note == "" {
		t.Errorf("later depends on an output only a run has; want a note: %+v", byID["later"])
	}
	if !strings.HasPrefix(byID["skipped"].Summary, "skipped") {
		t.Errorf("skipped: %+v", byID["skipped"])
	}
	// Same playbook, same inputs: same hash; different inputs: different hash.
	h2 := newHarness(t)
	again := h2.run(pb, nil, ModePlan)
	h3 := newHarness(t)
	other := h3.run(pb, map[string]string{"host": "i-456"}, ModePlan)
	if again.Plan.Hash != res.Plan.Hash || other.Plan.Hash == res.Plan.Hash {
		t.Fatalf("plan hashes: %s %s %s", res.Plan.Hash, again.Plan.Hash, other.Plan.Hash)
	}
}

func TestUnknownActionOnWorkerFailsClearly(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: x
    action: core.log
    with: {message: hi}
`)
	pb.Steps[0].Action = "aws.ec2.quarantine_subnet" // a playbook newer than this worker
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if res.Status != RunFailed || !strings.Contains(res.Error, `this worker has no action "aws.ec2.quarantine_subnet"`) {
		t.Fatalf("status %s, error %q", res.Status, res.Error)
	}
	if len(h.executed) != 1 {
		t.Fatalf("an unknown action must not be retried: %d attempts", len(h.executed))
	}
}

func TestTimelineEventsCarryWhoWhatWhere(t *testing.T) {
	h := newHarness(t)
	h.vote(time.Minute, "isolate", "U_IC1", true, "")
	h.vote(2*time.Minute, "isolate", "U_IC2", true, "")
	h.run(load(t, approvalPlaybook), nil, "")
	ev := h.timeline()
	for i, e := range ev {
		if e.Seq != i+1 || e.Time.IsZero() || e.Actor == "" || e.Kind == "" || e.Playbook != "t" || e.Origin == "" {
			t.Fatalf("event %d incomplete: %+v", i, e)
		}
	}
	if ev[0].Kind != EventRunStarted || ev[0].Actor != "U_REQ" || ev[0].Origin != "slack" {
		t.Fatalf("first event %+v", ev[0])
	}
	var votes []string
	for _, e := range ev {
		if e.Kind == EventApprovalVote {
			votes = append(votes, e.Actor)
		}
	}
	if !slices.Equal(votes, []string{"U_IC1", "U_IC2"}) {
		t.Fatalf("vote actors %v", votes)
	}
}

func TestNoPlaybookIsAnError(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(PlaybookWorkflow)
	env.ExecuteWorkflow(PlaybookWorkflow, PlaybookInput{})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "no playbook") {
		t.Fatalf("got %v", err)
	}
}

// TestApprovalValidatorClosedGates covers refusals for gates that closed,
// which a running workflow can only show after the decision: the run has
// moved on (or ended) by then.
func TestApprovalValidatorClosedGates(t *testing.T) {
	pb := load(t, approvalPlaybook)
	mk := func(st ApprovalState) *run {
		r := newRun(PlaybookInput{Playbook: pb, Requester: "U_REQ"})
		st.Eligible, st.Min, st.PlanHash = []string{"U_IC1", "U_IC2"}, 2, "h"
		r.gates["isolate"] = &gate{step: &pb.Steps[0], state: &st, requester: "U_REQ", votes: map[string]bool{}}
		return r
	}
	for _, c := range []struct {
		name  string
		state ApprovalState
		vote  Vote
		want  string
	}{
		{"after reject", ApprovalState{RejectedBy: "U_IC2"}, Vote{StepID: "isolate", Approver: "U_IC1", PlanHash: "h"}, "step isolate was already rejected by U_IC2"},
		{"after approval", ApprovalState{Approvers: []string{"U_IC1", "U_IC2"}}, Vote{StepID: "isolate", Approver: "U_IC1", PlanHash: "h"}, "step isolate is already approved"},
		{"after timeout", ApprovalState{}, Vote{StepID: "isolate", Approver: "U_IC1", PlanHash: "h"}, "no longer waiting for approval (timed out or aborted)"},
		{"no approver", ApprovalState{Open: true}, Vote{StepID: "isolate", PlanHash: "h"}, "needs the approver's identity"},
		{"open and valid", ApprovalState{Open: true}, Vote{StepID: "isolate", Approver: "U_IC1", PlanHash: "h"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := mk(c.state).validateVote(nil, c.vote)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want %q, got %v", c.want, err)
			}
		})
	}
}

func TestVotesOnlyFromTheRunsChannel(t *testing.T) {
	pb := load(t, approvalPlaybook)
	r := newRun(PlaybookInput{Playbook: pb, Requester: "U_REQ", Slack: &RunSlack{Channel: "C0INC"}})
	r.gates["isolate"] = &gate{step: &pb.Steps[0], requester: "U_REQ", votes: map[string]bool{},
		state: &ApprovalState{Eligible: []string{"U_IC1"}, Min: 1, PlanHash: "h", Open: true}}
	if err := r.validateVote(nil, Vote{StepID: "isolate", Approver: "U_IC1", PlanHash: "h", Approve: true, Channel: "C0FAKE"}); err == nil || !strings.Contains(err.Error(), "use <#C0INC>") {
		t.Fatalf("vote from another channel: %v", err)
	}
	// A Slack vote that names no channel is not from the run's channel.
	if err := r.validateVote(nil, Vote{StepID: "isolate", Approver: "U_IC1", PlanHash: "h", Approve: true, Origin: "slack"}); err == nil || !strings.Contains(err.Error(), "use <#C0INC>") {
		t.Fatalf("slack vote without a channel: %v", err)
	}
	if err := r.validateVote(nil, Vote{StepID: "isolate", Approver: "U_IC1", PlanHash: "h", Approve: true, Channel: "C0INC"}); err != nil {
		t.Fatalf("vote from the run's channel: %v", err)
	}
	// A task really waiting, so only the channel can refuse it.
	r.tasks["isolate"] = true
	done := TaskCompletion{StepID: "isolate", Actor: "U1", Origin: "slack", Holds: []policy.Principal{policy.Responders}}
	done.Channel = "C0FAKE"
	if err := r.validateTask(nil, done); err == nil || !strings.Contains(err.Error(), "use <#C0INC>") {
		t.Fatalf("task completion from another channel: %v", err)
	}
	done.Channel = "C0INC"
	if err := r.validateTask(nil, done); err != nil {
		t.Fatalf("task completion from the run's channel: %v", err)
	}
	// A run bound to no channel (started from the CLI) refuses Slack.
	cliRun := newRun(PlaybookInput{Playbook: pb, Requester: "alice"})
	cliRun.tasks["isolate"] = true
	if err := cliRun.validateTask(nil, done); err == nil || !strings.Contains(err.Error(), "has no Slack channel") {
		t.Fatalf("slack completion on a CLI run: %v", err)
	}
	if err := cliRun.validateTask(nil, TaskCompletion{StepID: "isolate", Actor: "alice", Origin: "cli"}); err != nil {
		t.Fatalf("cli completion: %v", err)
	}
}

// remote is a scripted action activity that behaves towards the workflow
// as one on a real Temporal server does. The testsuite cannot show an
// abort's effect on a running action: it resolves a cancelled activity's
// future at once, whatever WaitForCancellation says. On a server, a
// future with WaitForCancellation resolves only when the activity reports
// (it learns of the cancellation at its next heartbeat), and one without
// resolves at once while the activity runs on. remote does both.
type remote struct {
	activity string // ExecuteAction or PlanAction
	step     string
	action   string
	// runs is how long it takes when nobody stops it.
	runs time.Duration
	// lag is how long a cancellation takes to reach it (its next heartbeat).
	lag time.Duration
	// onCancel is what it does then: finish its change anyway, stop before
	// making it, or hang without a word (a wedged worker).
	onCancel string
	// started and changed count attempts and changes actually made.
	started, changed int
}

const (
	remoteFinishes = "finishes"
	remoteStops    = "stops"
	remoteHangs    = "hangs"
)

// scripted routes the activities the remotes match to them.
type scripted struct {
	interceptor.WorkerInterceptorBase
	remotes []*remote
}

func withRemotes(h *harness, rs ...*remote) {
	h.env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&scripted{remotes: rs}}})
}

func (s *scripted) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &scriptedInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, s: s}
}

type scriptedInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	s *scripted
}

func (i *scriptedInbound) Init(out interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&scriptedOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: out}, s: i.s})
}

type scriptedOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	s *scripted
}

func (o *scriptedOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	in, _ := args[0].(activities.ActionInput)
	for _, rm := range o.s.remotes {
		if rm.activity == activityType && rm.step == in.StepID && rm.action == in.Action {
			return rm.execute(ctx)
		}
	}
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

func (rm *remote) execute(ctx workflow.Context) workflow.Future {
	opts := workflow.GetActivityOptions(ctx)
	fut, settle := workflow.NewFuture(ctx)
	reported := false
	report := func(v any, err error) {
		if !reported {
			reported = true
			settle.Set(v, err)
		}
	}
	rm.started++
	server, _ := workflow.NewDisconnectedContext(ctx)
	workflow.Go(server, func(server workflow.Context) {
		cancelled := false
		sel := workflow.NewSelector(server)
		sel.AddFuture(workflow.NewTimer(server, rm.runs), func(workflow.Future) {})
		sel.AddReceive(ctx.Done(), func(c workflow.ReceiveChannel, _ bool) { c.Receive(server, nil); cancelled = true })
		sel.Select(server)
		if cancelled {
			if !opts.WaitForCancellation {
				report(nil, temporal.NewCanceledError())
			}
			_ = workflow.Sleep(server, rm.lag)
			switch rm.onCancel {
			case remoteHangs:
				return
			case remoteStops:
				report(nil, temporal.NewCanceledError())
				return
			}
		}
		rm.changed++
		if rm.activity == "PlanAction" {
			report(activities.Plan{Summary: rm.action + " planned"}, nil)
			return
		}
		report(activities.Result{Summary: rm.action + " done", Outputs: map[string]any{"message": "isolate"}}, nil)
	})
	return fut
}

func eventsOf(ev []Event, kind string) []Event {
	var out []Event
	for _, e := range ev {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

const abortMidActionPlaybook = header + `
on_failure: rollback
steps:
  - id: snapshot
    action: core.log
    with: {message: snapshot}
    compensate: {action: core.noop}
  - id: isolate
    action: core.log
    with: {message: isolate}
    compensate: {action: core.noop}
`

// TestAbortWhileActionRuns aborts while isolate's action runs: the run
// waits for its report, and a change it made (or may have made) is
// compensated with the others; one it did not make is not. Whether or
// not a step follows, the run ends aborted and that step never runs.
func TestAbortWhileActionRuns(t *testing.T) {
	t.Run("last step", func(t *testing.T) { abortWhileActionRuns(t, abortMidActionPlaybook) })
	t.Run("then another", func(t *testing.T) {
		abortWhileActionRuns(t, abortMidActionPlaybook+"  - id: never\n    action: core.noop\n")
	})
}

func abortWhileActionRuns(t *testing.T, pb string) {
	for _, c := range []struct {
		onCancel    string
		outcome     string
		compensated bool
		detail      string
	}{
		{remoteFinishes, stopCompleted, true, "core.log finished its change before it could stop; the step counts as done; rollback undoes it with core.noop"},
		{remoteStops, stopCancelled, false, "core.log stopped before making its change; nothing to undo"},
		{remoteHangs, stopUnknown, true, "core.log did not report back within 30s of the abort; it may have made its change, or still be making it; rollback runs its compensation core.noop anyway (compensations are idempotent)"},
	} {
		t.Run(c.onCancel, func(t *testing.T) {
			h := newHarness(t)
			isolate := &remote{activity: "ExecuteAction", step: "isolate", action: "core.log", runs: 10 * time.Minute, lag: 5 * time.Second, onCancel: c.onCancel}
			withRemotes(h, isolate)
			abort := h.update(time.Minute, UpdateAbort, func() any { return AbortRequest{Actor: "U_IC1", Reason: "wrong host"} })
			res := h.run(load(t, pb), nil, "")
			if abort.rejected != nil || res.Status != RunAborted || !strings.Contains(res.Error, "aborted by U_IC1: wrong host") {
				t.Fatalf("abort %v; status %s, error %q", abort.rejected, res.Status, res.Error)
			}
			if isolate.started != 1 {
				t.Fatalf("isolate started %d times", isolate.started)
			}
			compensations := 0
			for _, e := range h.executed {
				if e == "isolate:core.noop" {
					compensations++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[c.compensated]; compensations != want {
				t.Fatalf("isolate compensated %d times, want %d (its action made %d changes before the run closed); executed %v", compensations, want, isolate.changed, h.executed)
			}
			if !slices.Contains(h.executed, "snapshot:core.noop") || slices.Contains(h.executed, "never:core.noop") {
				t.Fatalf("executed %v", h.executed)
			}
			ev := h.timeline()
			asked, told := eventsOf(ev, EventActionStopRequested), eventsOf(ev, EventActionStopOutcome)
			if len(asked) != 1 || asked[0].Step != "isolate" || len(told) != 1 || told[0].Outcome != c.outcome || told[0].Detail != c.detail {
				t.Fatalf("stop events %+v / %+v, want outcome %s: %q", asked, told, c.outcome, c.detail)
			}
			mustHaveInOrder(t, kinds(ev), "abort_requested:", "action_stop_requested:isolate", "action_stop_outcome:isolate", "rollback_started:", "run_finished:")
			want := map[bool]string{true: StepCompensated, false: StepAborted}[c.compensated]
			if st := stepStatus(res); st["isolate"] != want || st["snapshot"] != StepCompensated || (strings.Contains(pb, "never") && st["never"] != StepPending) {
				t.Fatalf("statuses %v", st)
			}
		})
	}
}

// TestAbortWhilePlanning aborts a chat run (which plans first) while it
// plans, and while its plan is being posted: the run stops there, and no
// step runs.
func TestAbortWhilePlanning(t *testing.T) {
	pb := header + `
on_failure: rollback
steps:
  - id: isolate
    action: core.log
    with: {message: isolate}
    compensate: {action: core.noop}
`
	for _, c := range []struct {
		name      string
		planTakes time.Duration // isolate's PlanAction
		postTakes time.Duration // posting the plan to Slack
	}{
		{"during a plan call", 10 * time.Minute, 0},
		{"while the plan is posted", 0, 10 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			if c.planTakes > 0 {
				withRemotes(h, &remote{activity: "PlanAction", step: "isolate", action: "core.log", runs: c.planTakes, lag: 5 * time.Second, onCancel: remoteStops})
			}
			posts := 0
			h.env.RegisterActivityWithOptions(func(context.Context, RunPlanNotice) error { posts++; return nil }, activity.RegisterOptions{Name: ActivityPostRunPlan})
			h.env.RegisterActivityWithOptions(func(context.Context, RunStatusNotice) (SlackPosted, error) {
				return SlackPosted{Channel: "C0INC", TS: "1.1"}, nil
			}, activity.RegisterOptions{Name: ActivityUpdateRunStatus})
			if c.postTakes > 0 {
				h.env.OnActivity(ActivityPostRunPlan, mock.Anything, mock.Anything).After(c.postTakes).Return(nil)
			}
			abort := h.update(time.Minute, UpdateAbort, func() any { return AbortRequest{Actor: "U_IC1", Reason: "wrong incident"} })
			h.env.ExecuteWorkflow(PlaybookWorkflow, PlaybookInput{Playbook: load(t, pb), Requester: "U_REQ", Origin: "slack", Slack: &RunSlack{Channel: "C0INC"}})
			var res PlaybookResult
			if err := h.env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if abort.rejected != nil || abort.result != "aborting while planning: nothing has been changed, no step will run" {
				t.Fatalf("abort: refused %v, answer %v", abort.rejected, abort.result)
			}
			if res.Status != RunAborted || res.Error != "aborted by U_IC1: wrong incident while planning; nothing was changed" {
				t.Fatalf("status %s, error %q", res.Status, res.Error)
			}
			if len(h.executed) != 0 {
				t.Fatalf("an abort while planning must stop the run before any step: executed %v", h.executed)
			}
			if c.planTakes > 0 && posts != 0 {
				t.Fatalf("an unfinished plan was posted %d times", posts)
			}
			mustHaveInOrder(t, kinds(h.timeline()), "abort_requested:", "run_finished:")
		})
	}
}

// TestAbortDuringRollbackRefused: once a rollback runs, an abort would
// leave changes half undone, so it is refused with that reason and the
// rollback finishes.
func TestAbortDuringRollbackRefused(t *testing.T) {
	h := newHarness(t)
	slowUndo := &remote{activity: "ExecuteAction", step: "snapshot", action: "core.noop", runs: 10 * time.Minute, lag: 5 * time.Second, onCancel: remoteStops}
	withRemotes(h, slowUndo)
	abort := h.update(5*time.Minute, UpdateAbort, func() any { return AbortRequest{Actor: "U_IC1", Reason: "stop everything"} })
	res := h.run(load(t, rollbackPlaybook), nil, "")
	want := "the run is already rolling back its completed steps; a rollback cannot be aborted"
	if !abort.done || abort.rejected == nil || !strings.Contains(abort.rejected.Error(), want) {
		t.Fatalf("abort during rollback: done %v, refused %v; want %q", abort.done, abort.rejected, want)
	}
	if res.Status != RunFailed || slowUndo.changed != 1 {
		t.Fatalf("status %s, snapshot compensated %d times", res.Status, slowUndo.changed)
	}
	if st := stepStatus(res); st["snapshot"] != StepCompensated || st["isolate"] != StepCompensated {
		t.Fatalf("statuses %v", st)
	}
	if len(eventsOf(h.timeline(), EventAbortRequested)) != 0 {
		t.Fatal("a refused abort must not reach the timeline")
	}
}

// TestIdempotencyKeysCarryTheRunID: a new run that reuses a workflow ID
// must not inherit the keys of the old one.
func TestIdempotencyKeysCarryTheRunID(t *testing.T) {
	h := newHarness(t)
	var keys, runs []string
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		var in activities.ActionInput
		if args.Get(&in) == nil && in.StepID != "" {
			keys = append(keys, in.IdempotencyKey)
			runs = append(runs, info.WorkflowExecution.ID+"/"+info.WorkflowExecution.RunID+"/")
		}
	})
	h.run(load(t, rollbackPlaybook), nil, "")
	if len(runs) == 0 || strings.HasSuffix(runs[0], "//") {
		t.Fatalf("no run ID to check against: %v", runs)
	}
	run := runs[0]
	want := []string{run + "isolate", run + "snapshot", run + "untouched", run + "boom", run + "snapshot/compensate", run + "isolate/compensate"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys\n%v\nwant\n%v", keys, want)
	}
}

// An action's resource and request IDs are on its step's one step_succeeded event (the audit
// record), not on a second event of the same kind.
func TestStepSucceededCarriesRequestIDsOnce(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: isolate
    action: core.noop
`)
	h := newHarness(t)
	var steps *activities.Steps
	h.env.OnActivity(steps.ExecuteAction, mock.Anything, mock.Anything).Return(
		activities.Result{Summary: "isolated", Resource: "i-0abc", RequestIDs: []string{"req-1", "req-2"}}, nil)
	res := h.run(pb, nil, "")
	if res.Status != RunSucceeded {
		t.Fatalf("status %s %s", res.Status, res.Error)
	}
	var got []Event
	for _, e := range res.Timeline {
		if e.Kind == EventStepSucceeded {
			got = append(got, e)
		}
	}
	if len(got) != 1 || got[0].Resource != "i-0abc" || strings.Join(got[0].RequestIDs, ",") != "req-1,req-2" || got[0].Detail != "isolated" {
		t.Fatalf("step_succeeded events %+v", got)
	}
}
