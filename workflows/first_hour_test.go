package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// runWith runs pb with in's requester, origin and incident (the harness's
// run plays the Slack bot; these tests also play the CLI and incidents).
func (h *harness) runWith(pb *playbooks.Playbook, in PlaybookInput) PlaybookResult {
	h.t.Helper()
	vals, err := playbooks.ResolveInputs(pb, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	in.Playbook, in.Inputs = pb, vals
	h.env.ExecuteWorkflow(PlaybookWorkflow, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	var res PlaybookResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatalf("workflow error: %v", err)
	}
	return res
}

func details(ev []Event, kind string) []string {
	var out []string
	for _, e := range ev {
		if e.Kind == kind {
			out = append(out, e.Step+": "+e.Detail)
		}
	}
	return out
}

const severityPlaybook = header + `
steps:
  - id: page-exec
    when: incident.severity == 'sev1'
    action: core.log
    with: {message: "paging the exec on call for ${{ incident.key }}"}
  - id: no-commander
    when: incident.roles.commander == ''
    action: core.noop
`

// TestIncidentVarsFromTheCLI: a run with no incident sees `incident` with
// empty values, so the documented severity check is false, not an error.
func TestIncidentVarsFromTheCLI(t *testing.T) {
	h := newHarness(t)
	res := h.runWith(load(t, severityPlaybook), PlaybookInput{Requester: "alice", Origin: "cli"})
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	if st := stepStatus(res); st["page-exec"] != StepSkipped || st["no-commander"] != StepSucceeded {
		t.Fatalf("statuses %v", st)
	}
}

// TestIncidentSeverityIsLowercase: an incident stores SEV1; expressions
// compare with 'sev1' as documented.
func TestIncidentSeverityIsLowercase(t *testing.T) {
	h := newHarness(t)
	inc := map[string]any{"key": "INC-2026-0007", "severity": "SEV1", "roles": map[string]any{"commander": "U_IC1"}}
	res := h.runWith(load(t, severityPlaybook), PlaybookInput{Requester: "U_REQ", Origin: "slack", Incident: inc})
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	if st := stepStatus(res); st["page-exec"] != StepSucceeded || st["no-commander"] != StepSkipped {
		t.Fatalf("statuses %v", st)
	}
	if got := res.Steps[0].Summary; !strings.Contains(got, "INC-2026-0007") {
		t.Fatalf("summary %q does not name the incident", got)
	}
}

func TestIncidentVarsKeepExtraKeys(t *testing.T) {
	got := incidentVars(map[string]any{"severity": "Sev2", "extra": 1})
	if got["severity"] != "sev2" || got["extra"] != 1 || got["key"] != "" {
		t.Fatalf("incidentVars: %v", got)
	}
	if got := incidentVars(nil); got["severity"] != "" || got["roles"].(map[string]any)["scribe"] != "" {
		t.Fatalf("incidentVars(nil): %v", got)
	}
}

// TestRetriesAreOnTheTimeline: every failed attempt is an event with the
// action's own message and the wait before the next.
func TestRetriesAreOnTheTimeline(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: flaky
    action: core.fail
    with: {message: "throttled", succeed_on_attempt: 3}
    retry: {max_attempts: 4, initial_interval: 2s}
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	got := details(h.timeline(), EventStepRetrying)
	want := []string{
		"flaky: attempt 1 of 4 failed: throttled; retrying in 2s",
		"flaky: attempt 2 of 4 failed: throttled; retrying in 4s",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("retry events\n got %q\nwant %q", got, want)
	}
	if fmt.Sprint(res.Outputs["flaky"]["attempts"]) != "3" || len(h.executed) != 3 {
		t.Fatalf("attempts %v, executed %v", res.Outputs["flaky"]["attempts"], h.executed)
	}
}

// TestFailedStepMessageIsClean: the step's error is the action's message
// and how many attempts it had, without Temporal's decorations.
func TestFailedStepMessageIsClean(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: boom
    action: core.fail
    with: {message: "access denied"}
    retry: {max_attempts: 2, initial_interval: 1s}
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	want := "access denied (attempt 2 of 2; no retries left)"
	if res.Status != RunFailed || res.Steps[0].Error != want || res.Error != "step boom: "+want {
		t.Fatalf("status %s, step error %q, run error %q", res.Status, res.Steps[0].Error, res.Error)
	}
	for _, e := range h.timeline() {
		if strings.Contains(e.Detail, "retryable") || strings.Contains(e.Detail, "type:") {
			t.Fatalf("Temporal's decorations leak into the timeline: %+v", e)
		}
	}
}

// TestNonRetryableErrorIsNotRetried: a bad input fails at once.
func TestNonRetryableErrorIsNotRetried(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: bad
    action: core.log
    with: {message: x, level: loud}
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if res.Status != RunFailed || len(h.executed) != 1 || len(details(h.timeline(), EventStepRetrying)) != 0 {
		t.Fatalf("status %s, executed %v", res.Status, h.executed)
	}
	if want := `core.log: level "loud": want debug, info, warn or error`; res.Steps[0].Error != want {
		t.Fatalf("error %q, want %q", res.Steps[0].Error, want)
	}
}

// TestStepTimeoutEndsRetries: no attempt starts that the step's timeout
// would cut off, and the message says so.
func TestStepTimeoutEndsRetries(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: slow
    action: core.fail
    with: {message: down}
    timeout: 30s
    retry: {max_attempts: 100, initial_interval: 10s, backoff_coefficient: 1}
`)
	h := newHarness(t)
	res := h.run(pb, nil, "")
	if res.Status != RunFailed || len(h.executed) != 3 {
		t.Fatalf("status %s, %d attempts (want 3: at 0s, 10s, 20s)", res.Status, len(h.executed))
	}
	if want := "down (attempt 3 of 100; the step's 30s timeout ends before another)"; res.Steps[0].Error != want {
		t.Fatalf("error %q, want %q", res.Steps[0].Error, want)
	}
}

// TestAbortBetweenAttempts: an abort during the wait between attempts
// stops the step; no further attempt runs.
func TestAbortBetweenAttempts(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: flaky
    action: core.fail
    with: {message: "throttled"}
    retry: {max_attempts: 5, initial_interval: 1m}
`)
	h := newHarness(t)
	abort := h.update(30*time.Second, UpdateAbort, func() any { return AbortRequest{Actor: "U_IC1", Reason: "enough"} })
	res := h.run(pb, nil, "")
	if abort.rejected != nil {
		t.Fatalf("abort refused: %v", abort.rejected)
	}
	if res.Status != RunAborted || len(h.executed) != 1 || stepStatus(res)["flaky"] != StepAborted {
		t.Fatalf("status %s, executed %v, steps %v", res.Status, h.executed, stepStatus(res))
	}
}

func TestErrorMessage(t *testing.T) {
	app := temporal.NewApplicationError("core.fail: boom", "CoreFail")
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("plan for approval: %w", app), "plan for approval: core.fail: boom"},
		{temporal.NewNonRetryableApplicationError("unknown playbook x", "BadInput", nil), "unknown playbook x"},
		{errors.New("plain"), "plain"},
	} {
		if got := errorMessage(c.err); got != c.want {
			t.Errorf("errorMessage(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	if got := causeMessage(temporal.NewTimeoutError(0, nil)); got != "timed out" {
		t.Errorf("timeout: %q", got)
	}
}

const drillGate = header + `
inputs:
  approvers: {type: list, default: []}
steps:
  - id: rotate
    action: core.noop
    approval:
      users: "${{ size(inputs.approvers) > 0 ? inputs.approvers : [run.requester] }}"
      allow_requester: true
`

// TestApprovalUsersFromTheRequester: a drill with no configuration lets
// whoever started it approve, from the CLI.
func TestApprovalUsersFromTheRequester(t *testing.T) {
	h := newHarness(t)
	vote := h.update(time.Minute, UpdateApprove, func() any {
		return Vote{StepID: "rotate", Approver: "alice", PlanHash: h.status().Steps[0].Approval.PlanHash, Approve: true}
	})
	res := h.runWith(load(t, drillGate), PlaybookInput{Requester: "alice", Origin: "cli"})
	if vote.rejected != nil || res.Status != RunSucceeded {
		t.Fatalf("vote refused: %v; status %s: %s", vote.rejected, res.Status, res.Error)
	}
	if a := res.Steps[0].Approval; !slices.Equal(a.Eligible, []string{"alice"}) || !slices.Equal(a.Approvers, []string{"alice"}) {
		t.Fatalf("approval %+v", a)
	}
}

// TestApprovalUsersFromAnInput: named approvers replace the requester.
func TestApprovalUsersFromAnInput(t *testing.T) {
	h := newHarness(t)
	pb := load(t, drillGate)
	vals, err := playbooks.ResolveInputs(pb, map[string]string{"approvers": "bob, carol"})
	if err != nil {
		t.Fatal(err)
	}
	refused := h.update(time.Minute, UpdateApprove, func() any {
		return Vote{StepID: "rotate", Approver: "alice", PlanHash: h.status().Steps[0].Approval.PlanHash, Approve: true}
	})
	ok := h.update(2*time.Minute, UpdateApprove, func() any {
		return Vote{StepID: "rotate", Approver: "carol", PlanHash: h.status().Steps[0].Approval.PlanHash, Approve: true}
	})
	h.env.ExecuteWorkflow(PlaybookWorkflow, PlaybookInput{Playbook: pb, Inputs: vals, Requester: "alice", Origin: "cli"})
	var res PlaybookResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if refused.rejected == nil || !strings.Contains(refused.rejected.Error(), "alice is not an approver for step rotate") {
		t.Fatalf("alice's vote: %v", refused.rejected)
	}
	if ok.rejected != nil || res.Status != RunSucceeded || !slices.Equal(res.Steps[0].Approval.Eligible, []string{"bob", "carol"}) {
		t.Fatalf("carol's vote %v, status %s, approval %+v", ok.rejected, res.Status, res.Steps[0].Approval)
	}
}

// TestUnknownGroupAddsNobody: an approver group the worker does not know
// is named on the timeline, and the step's users can still approve.
func TestUnknownGroupAddsNobody(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: rotate
    action: core.noop
    approval: {group: oncall, users: [U_IC1]}
`)
	h := newHarness(t)
	h.vote(time.Minute, "rotate", "U_IC1", true, "")
	res := h.run(pb, nil, "")
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	got := details(h.timeline(), EventApprovalRequested)
	if len(got) != 1 || !strings.Contains(got[0], "needs 1 of U_IC1 (group oncall is not configured here and adds nobody)") {
		t.Fatalf("approval requested: %q", got)
	}
}

// TestGateNobodyCanApproveFailsAtOnce: instead of waiting for a vote that
// cannot come, the step fails with the reason.
func TestGateNobodyCanApproveFailsAtOnce(t *testing.T) {
	for _, c := range []struct {
		name, approval, want string
	}{
		{"unknown group", "{group: oncall}", `step rotate: needs 1 approval(s) but nobody may approve it: approver group "oncall" is not configured on this worker (access.groups.oncall in firebreak.yaml)`},
		{"only the requester", "{users: [U_REQ, U_IC1], min: 2}", "step rotate: needs 2 approval(s) but only U_IC1 may approve it: U_REQ requested the run and may not approve it (the step does not set allow_requester)"},
		{"empty template", `{users: "${{ inputs.approvers }}"}`, "step rotate: needs 1 approval(s) but nobody may approve it: approval.users ${{ inputs.approvers }} gave 0 name(s)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pb := load(t, header+`
inputs:
  approvers: {type: list, default: []}
steps:
  - id: rotate
    action: core.noop
    approval: `+c.approval+`
`)
			h := newHarness(t)
			res := h.run(pb, nil, "")
			if res.Status != RunFailed || res.Error != c.want {
				t.Fatalf("status %s, error\n got %q\nwant %q", res.Status, res.Error, c.want)
			}
			if len(h.executed) != 0 {
				t.Fatalf("executed %v", h.executed)
			}
		})
	}
}

// TestRequesterIsNotListedAsEligible: the requester is in the group but
// may not approve, so the gate does not list them (unless allow_requester).
func TestRequesterIsNotListedAsEligible(t *testing.T) {
	for allow, want := range map[bool][]string{false: {"U_IC1", "U_IC2"}, true: {"U_IC1", "U_IC2", "U_REQ"}} {
		pb := load(t, header+fmt.Sprintf(`
steps:
  - id: isolate
    action: core.noop
    approval: {group: incident-commanders, allow_requester: %v}
`, allow))
		h := newHarness(t)
		requester := h.vote(time.Minute, "isolate", "U_REQ", true, "")
		h.vote(2*time.Minute, "isolate", "U_IC1", true, "")
		res := h.run(pb, nil, "")
		if got := res.Steps[0].Approval.Eligible; !slices.Equal(got, want) {
			t.Errorf("allow_requester %v: eligible %v, want %v", allow, got, want)
		}
		if (requester.rejected == nil) != allow {
			t.Errorf("allow_requester %v: requester's vote: %v", allow, requester.rejected)
		}
		if !allow && !strings.Contains(requester.rejected.Error(), "U_REQ requested this run and cannot approve its own step isolate") {
			t.Errorf("requester's refusal: %v", requester.rejected)
		}
	}
}

func TestStaleHashMessagesDiffer(t *testing.T) {
	const full = "21d55027ed45aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33"
	for _, c := range []struct{ sent, want string }{
		{"21d55027ed45", "the plan hash sent for step s, 21d55027ed45, is only the first 12 characters of its plan hash: send the full hash " + full},
		{"21d55027ed45ff", "you sent plan hash 21d55027ed45f…, the plan is now 21d55027ed45a…"},
		{"0123", "you sent plan hash 0123, the plan is now 21d55027ed45…"},
		{"", "carries no plan hash"},
	} {
		if err := staleHash("s", c.sent, full); !strings.Contains(err.Error(), c.want) {
			t.Errorf("sent %q: %v\nwant it to contain %q", c.sent, err, c.want)
		}
	}
}

// TestRejectionWithoutHashReadsWell: a rejection carries no plan hash;
// the timeline says so instead of "plan no plan".
func TestRejectionWithoutHashReadsWell(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: isolate
    action: core.noop
    approval: {group: incident-commanders}
`)
	h := newHarness(t)
	h.update(time.Minute, UpdateApprove, func() any {
		return Vote{StepID: "isolate", Approver: "U_IC1", Approve: false, Comment: "not yet", Origin: "slack"}
	})
	res := h.run(pb, nil, "")
	got := details(h.timeline(), EventApprovalVote)
	if res.Status != RunRejected || len(got) != 1 || got[0] != "isolate: 0 of 1 approvals; no plan hash given: not yet" {
		t.Fatalf("status %s, votes %q", res.Status, got)
	}
}

// TestPlanWarnsAboutApprovers: --plan names who may approve, and warns
// when a group is not configured or nobody could approve.
func TestPlanWarnsAboutApprovers(t *testing.T) {
	pb := load(t, header+`
steps:
  - id: rotate
    action: core.noop
    approval: {group: oncall, users: [U_IC1]}
  - id: isolate
    action: core.noop
    approval: {group: oncall}
  - id: tell
    action: core.log
    with: {message: "rotated: ${{ steps['rotate'].outputs.message }}"}
`)
	h := newHarness(t)
	res := h.run(pb, nil, ModePlan)
	if res.Status != RunPlanned {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	notes := map[string]string{}
	for _, s := range res.Plan.Steps {
		notes[s.ID] = s.Summary + " | " + s.Note
	}
	for id, want := range map[string]string{
		"rotate":  `no change (core.noop does nothing) | warning: approver group "oncall" is not configured on this worker (access.groups.oncall in firebreak.yaml), so it adds nobody; approvers: U_IC1`,
		"isolate": `warning: a run would fail here: needs 1 approval(s) but nobody may approve it`,
		"tell":    `step tell: with.message = ${{ steps['rotate'].outputs.message }} reads the outputs of step rotate, which only a real run produces; it is worked out when the run gets there`,
	} {
		if !strings.Contains(notes[id], want) {
			t.Errorf("%s: plan %q\nwant it to contain %q", id, notes[id], want)
		}
	}
}

// TestSeverityInsideAnIncident: a playbook run by an incident declared
// sev1 (stored as SEV1) matches `incident.severity == 'sev1'`; one of
// another severity does not.
func TestSeverityInsideAnIncident(t *testing.T) {
	for sev, want := range map[string]string{"sev1": "step_succeeded:page-exec", "SEV3": "step_skipped:page-exec"} {
		e := newIncidentEnv(t)
		pb := load(t, severityPlaybook)
		run := e.change(time.Minute, UpdateRunPlaybook, RunRequest{Playbook: pb, Actor: "U_IC1", Origin: "slack", Channel: "C0INC", RequestID: "trig-1",
			Holds: []policy.Principal{policy.Responders}})
		e.change(10*time.Minute, UpdateResolve, ChangeRequest{Actor: "U1", Text: "done"})
		e.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{
			Key: "INC-2026-0042", Title: "Checkout down", Severity: sev, DeclaredBy: "U1", Origin: "slack",
			Slack: &IncidentSlack{},
		})
		var final IncidentState
		if err := e.env.GetWorkflowResult(&final); err != nil {
			t.Fatal(err)
		}
		if run.rejected != nil || len(final.Runs) != 1 || final.Runs[0].Status != RunSucceeded {
			t.Fatalf("%s: run %v, runs %+v", sev, run.rejected, final.Runs)
		}
		if !strings.EqualFold(final.Severity, sev) {
			t.Fatalf("severity %q", final.Severity)
		}
		mustHaveInOrder(t, kinds(final.Timeline), "playbook_run_started:", want, "playbook_run_finished:")
	}
}

// TestApprovalUsersTemplateErrors: a template that does not give user
// names fails the step with what it gave.
func TestApprovalUsersTemplateErrors(t *testing.T) {
	for users, want := range map[string]string{
		`"${{ [1, 2] }}"`:                    "step rotate: approval.users: ${{ [1, 2] }} gave [1 2], want a list of user names",
		`"${{ 5 }}"`:                         "step rotate: approval.users: ${{ 5 }} gave 5, want a list of user names",
		`"${{ steps.skipped.outputs.who }}"`: "step rotate: approval.users: ${{ steps.skipped.outputs.who }}: no such key: who",
	} {
		pb := load(t, header+`
steps:
  - id: skipped
    when: false
    action: core.noop
  - id: rotate
    action: core.noop
    approval: {users: `+users+`}
`)
		h := newHarness(t)
		res := h.run(pb, nil, "")
		if res.Status != RunFailed || res.Error != want {
			t.Errorf("users %s: status %s, error\n got %q\nwant %q", users, res.Status, res.Error, want)
		}
	}
}
