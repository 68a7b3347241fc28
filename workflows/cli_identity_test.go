package workflows

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
)

// twoApprovers needs two distinct approvers from incident-commanders
// (U_IC1, U_IC2, U_REQ in testGroups).
const twoApprovers = header + `
steps:
  - id: isolate
    action: core.log
    with: {message: "isolate i-123"}
    approval: {group: incident-commanders, min: 2, timeout: 1h}
  - id: notify
    action: core.log
    with: {message: "notify"}
    approval: {group: incident-commanders, min: 1, timeout: 1h}
`

// testKey is a deterministic CLI key for user.
func testKey(user string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(user))
	return ed25519.NewKeyFromSeed(seed[:])
}

// cliEnv is a harness whose worker has a CLI policy, and which records the
// run's workflow and run IDs (signatures are bound to them).
type cliEnv struct {
	*harness
	workflowID, runID string
}

// newCLIEnv gives each of users its testKey.
func newCLIEnv(t *testing.T, mode string, users ...string) *cliEnv {
	keys := map[string]ed25519.PublicKey{}
	for _, u := range users {
		keys[u] = testKey(u).Public().(ed25519.PublicKey)
	}
	return newCLIEnvKeys(t, mode, keys)
}

func newCLIEnvKeys(t *testing.T, mode string, keys map[string]ed25519.PublicKey) *cliEnv {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	e := &cliEnv{harness: &harness{t: t, env: s.NewTestWorkflowEnvironment()}}
	e.env.RegisterWorkflow(PlaybookWorkflow)
	e.env.RegisterActivity(&activities.Steps{Registry: registry(t), Groups: testGroups,
		CLI: activities.CLIPolicy{Approvals: mode, Keys: keys}})
	e.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		e.workflowID, e.runID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
		var in activities.ActionInput
		if info.ActivityType.Name == "ExecuteAction" && args.Get(&in) == nil {
			e.executed = append(e.executed, in.StepID+":"+in.Action)
		}
	})
	return e
}

// runFrom runs pb requested by U_REQ from origin ("slack" or "cli").
func (e *cliEnv) runFrom(pb *playbooks.Playbook, origin string) PlaybookResult {
	e.t.Helper()
	e.env.ExecuteWorkflow(PlaybookWorkflow, PlaybookInput{Playbook: pb, Requester: "U_REQ", Origin: origin})
	if !e.env.IsWorkflowCompleted() {
		e.t.Fatal("workflow did not complete")
	}
	var res PlaybookResult
	if err := e.env.GetWorkflowResult(&res); err != nil {
		e.t.Fatalf("workflow error: %v", err)
	}
	return res
}

func (e *cliEnv) hash(step string) string {
	for _, s := range e.status().Steps {
		if s.ID == step && s.Approval != nil {
			return s.Approval.PlanHash
		}
	}
	return ""
}

// cast sends v at the given time; the gate's plan hash fills an empty one.
func (e *cliEnv) cast(at time.Duration, v Vote) *updateOutcome {
	return e.update(at, UpdateApprove, func() any {
		if v.PlanHash == "" {
			v.PlanHash = e.hash(v.StepID)
		}
		return v
	})
}

// claim is an unverified CLI approval, as `playbook approve --as user` sends it.
func (e *cliEnv) claim(at time.Duration, step, user string) *updateOutcome {
	return e.cast(at, Vote{StepID: step, Approver: user, Approve: true, Origin: "cli"})
}

// fromSlack is an approval the bot verified.
func (e *cliEnv) fromSlack(at time.Duration, step, user string) *updateOutcome {
	return e.cast(at, Vote{StepID: step, Approver: user, Approve: true, Origin: "slack"})
}

// signed is a CLI vote by user signed with key, as `playbook approve --key`
// sends it. before changes what is signed (the vote, workflow and run IDs);
// after changes the vote once signed, to try moving the signature.
func (e *cliEnv) signed(at time.Duration, step, user string, key ed25519.PrivateKey, before func(v *Vote, wf, run *string), after func(*Vote)) *updateOutcome {
	return e.update(at, UpdateApprove, func() any {
		v := Vote{StepID: step, Approver: user, Approve: true, Origin: "cli", PlanHash: e.hash(step), SignedAt: e.env.Now()}
		wf, run := e.workflowID, e.runID
		if before != nil {
			before(&v, &wf, &run)
		}
		v.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, SignedVoteMessage(wf, run, v)))
		if after != nil {
			after(&v)
		}
		return v
	})
}

func wantRefused(t *testing.T, name string, out *updateOutcome, reasons ...string) {
	t.Helper()
	if !out.done {
		t.Errorf("%s: update never finished", name)
		return
	}
	if len(reasons) == 0 {
		if out.rejected != nil {
			t.Errorf("%s: refused: %v", name, out.rejected)
		}
		return
	}
	if out.rejected == nil {
		t.Errorf("%s: accepted, want refusal %q", name, reasons[0])
		return
	}
	for _, r := range reasons {
		if !strings.Contains(out.rejected.Error(), r) {
			t.Errorf("%s: refusal %q lacks %q", name, out.rejected, r)
		}
	}
}

func voteEvents(ev []Event) []Event {
	var out []Event
	for _, e := range ev {
		if e.Kind == EventApprovalVote {
			out = append(out, e)
		}
	}
	return out
}

// TestUnverifiedCLIVotesCountOnce: one person at the CLI cannot fill a
// min-2 gate with two --as names; the second approval must be verified.
// The timeline marks the CLI vote as an unverified claim.
func TestUnverifiedCLIVotesCountOnce(t *testing.T) {
	e := newCLIEnv(t, "")
	first := e.claim(time.Minute, "isolate", "U_IC1")
	second := e.claim(2*time.Minute, "isolate", "U_IC2")
	slack := e.fromSlack(3*time.Minute, "isolate", "U_IC2")
	// The next gate is a new gate: one unverified CLI vote counts there.
	next := e.claim(4*time.Minute, "notify", "U_IC2")
	res := e.runFrom(load(t, twoApprovers), "slack")
	wantRefused(t, "first CLI name", first)
	wantRefused(t, "second CLI name", second,
		"step isolate already has its one unverified CLI approval (as U_IC1)",
		"unverified CLI votes count once per gate however many names they use",
		"approve from Slack, or sign the vote with `--key FILE`")
	wantRefused(t, "verified second approver", slack)
	wantRefused(t, "CLI vote on the next gate", next)
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	if a := res.Steps[0].Approval; a.UnverifiedCLI != "U_IC1" || strings.Join(a.Approvers, ",") != "U_IC1,U_IC2" {
		t.Fatalf("gate %+v", a)
	}
	votes := voteEvents(e.timeline())
	if len(votes) != 3 {
		t.Fatalf("votes on the timeline: %+v", votes)
	}
	if v := votes[0]; v.Actor != "U_IC1" || v.Origin != "cli" || !strings.Contains(v.Detail, "unverified CLI identity") {
		t.Errorf("CLI vote not marked unverified: %+v", v)
	}
	if v := votes[1]; v.Actor != "U_IC2" || v.Origin != "slack" || strings.Contains(v.Detail, "unverified") {
		t.Errorf("Slack vote: %+v", v)
	}
}

// TestUnverifiedCLIVoteWithoutOriginIsMarked: a vote that names no origin
// does not borrow the run's ("slack") on the timeline.
func TestUnverifiedCLIVoteWithoutOriginIsMarked(t *testing.T) {
	e := newCLIEnv(t, "")
	v := e.cast(2*time.Minute, Vote{StepID: "notify", Approver: "U_IC1", Approve: true})
	e.fromSlack(time.Minute, "isolate", "U_IC1")
	e.fromSlack(time.Minute, "isolate", "U_IC2")
	e.runFrom(load(t, twoApprovers), "slack")
	wantRefused(t, "vote without origin", v)
	votes := voteEvents(e.timeline())
	if last := votes[len(votes)-1]; last.Step != "notify" || last.Origin != "cli" || !strings.Contains(last.Detail, "unverified CLI identity") {
		t.Fatalf("unmarked: %+v", last)
	}
}

// TestUnverifiedCLIVoteOnCLIRequestedRun: when both the requester and the
// approver are CLI claims, they may be one person; allow_requester is the
// playbook's way of saying that is fine.
func TestUnverifiedCLIVoteOnCLIRequestedRun(t *testing.T) {
	e := newCLIEnv(t, "")
	cli := e.claim(time.Minute, "notify", "U_IC1")
	slack := e.fromSlack(2*time.Minute, "notify", "U_IC1")
	pb := load(t, header+`
steps:
  - id: notify
    action: core.log
    with: {message: "notify"}
    approval: {group: incident-commanders, timeout: 1h}
`)
	if res := e.runFrom(pb, "cli"); res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	wantRefused(t, "CLI vote on a CLI run", cli,
		"this run was not requested through Slack: its requester, U_REQ, is a name only Temporal access backs",
		"may be that requester approving their own step",
		"approve from Slack, or sign the vote with `--key FILE`",
		"or set allow_requester on the step")
	wantRefused(t, "Slack vote on a CLI run", slack)

	e = newCLIEnv(t, "")
	allowed := e.claim(time.Minute, "notify", "U_IC1")
	pb = load(t, header+`
steps:
  - id: notify
    action: core.log
    with: {message: "notify"}
    approval: {group: incident-commanders, timeout: 1h, allow_requester: true}
`)
	if res := e.runFrom(pb, "cli"); res.Status != RunSucceeded {
		t.Fatalf("allow_requester: status %s: %s", res.Status, res.Error)
	}
	wantRefused(t, "CLI vote with allow_requester", allowed)
}

// TestCLIApprovalsForbid: production refuses every CLI approval, signed or
// not; Slack approvals and CLI rejections still work.
func TestCLIApprovalsForbid(t *testing.T) {
	e := newCLIEnv(t, activities.CLIApprovalsForbid, "U_IC1")
	claim := e.claim(time.Minute, "isolate", "U_IC1")
	signed := e.signed(2*time.Minute, "isolate", "U_IC1", testKey("U_IC1"), nil, nil)
	e.fromSlack(3*time.Minute, "isolate", "U_IC1")
	e.fromSlack(4*time.Minute, "isolate", "U_IC2")
	reject := e.cast(5*time.Minute, Vote{StepID: "notify", Approver: "U_IC1", Origin: "cli"})
	res := e.runFrom(load(t, twoApprovers), "slack")
	wantRefused(t, "unverified CLI approval", claim, "CLI approvals are turned off here (access.cli.approvals: forbid): approve step isolate from Slack")
	wantRefused(t, "signed CLI approval", signed, "CLI approvals are turned off here (access.cli.approvals: forbid), signed or not")
	wantRefused(t, "CLI rejection", reject)
	if res.Status != RunRejected || !strings.Contains(res.Error, "rejected by U_IC1") {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
}

// TestCLIApprovalsVerified: only signed CLI approvals count.
func TestCLIApprovalsVerified(t *testing.T) {
	e := newCLIEnv(t, activities.CLIApprovalsVerified, "U_IC1")
	e.fromSlack(time.Minute, "isolate", "U_IC1")
	e.fromSlack(time.Minute, "isolate", "U_IC2")
	claim := e.claim(2*time.Minute, "notify", "U_IC2")
	signed := e.signed(3*time.Minute, "notify", "U_IC1", testKey("U_IC1"), nil, nil)
	res := e.runFrom(load(t, twoApprovers), "slack")
	wantRefused(t, "unverified CLI approval", claim,
		"only signed CLI approvals count here (access.cli.approvals: verified), and this one, as U_IC2, is an unverified claim",
		"sign the vote with `--key FILE`")
	wantRefused(t, "signed CLI approval", signed)
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
}

// TestSignedVotesCountAsTheirUsers: a signed vote is that Slack user's
// vote, even on a run requested from the CLI: two signed votes by two users
// release a min-2 gate, and the distinct-approver and requester rules apply
// to the signer.
func TestSignedVotesCountAsTheirUsers(t *testing.T) {
	e := newCLIEnv(t, "", "U_IC1", "U_IC2", "U_REQ")
	requester := e.signed(time.Minute, "isolate", "U_REQ", testKey("U_REQ"), nil, nil)
	first := e.signed(2*time.Minute, "isolate", "U_IC1", testKey("U_IC1"), nil, nil)
	replay := e.signed(3*time.Minute, "isolate", "U_IC1", testKey("U_IC1"), nil, nil)
	second := e.signed(4*time.Minute, "isolate", "U_IC2", testKey("U_IC2"), nil, nil)
	next := e.signed(5*time.Minute, "notify", "U_IC2", testKey("U_IC2"), nil, nil)
	res := e.runFrom(load(t, twoApprovers), "cli")
	wantRefused(t, "signed by the requester", requester, "U_REQ requested this run and cannot approve its own step isolate")
	wantRefused(t, "first signed", first)
	wantRefused(t, "same user again", replay, "U_IC1 already voted on step isolate")
	wantRefused(t, "second signed", second)
	wantRefused(t, "signed on the next gate", next)
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
	if a := res.Steps[0].Approval; strings.Join(a.Approvers, ",") != "U_IC1,U_IC2" || a.UnverifiedCLI != "" {
		t.Fatalf("gate %+v", a)
	}
	for _, v := range voteEvents(e.timeline()) {
		if v.Origin != "cli" || !strings.Contains(v.Detail, "identity verified by CLI key") || strings.Contains(v.Detail, "unverified") {
			t.Errorf("signed vote on the timeline: %+v", v)
		}
	}
	if got, ok := first.result.(VoteResult); !ok || got.Identity != IdentityCLIKey {
		t.Errorf("vote result %#v, want identity %q", first.result, IdentityCLIKey)
	}
}

// TestSignatureBoundToGate: a signature counts only for the run, step, plan
// and decision it was made for, by the key listed for its user, and only
// around when it was made.
func TestSignatureBoundToGate(t *testing.T) {
	e := newCLIEnv(t, "", "U_IC1", "U_IC2")
	k := testKey("U_IC1")
	const moved = "does not verify with U_IC1's key in access.cli.keys"
	cases := []struct {
		name   string
		out    *updateOutcome
		reason string
	}{
		{"for another step", e.signed(time.Minute, "isolate", "U_IC1", k,
			func(v *Vote, _, _ *string) { v.StepID = "notify" }, func(v *Vote) { v.StepID = "isolate" }), moved},
		{"for another plan", e.signed(2*time.Minute, "isolate", "U_IC1", k,
			func(v *Vote, _, _ *string) { v.PlanHash = strings.Repeat("0", 64) }, func(v *Vote) { v.PlanHash = e.hash("isolate") }), moved},
		{"for another run", e.signed(3*time.Minute, "isolate", "U_IC1", k,
			func(_ *Vote, wf, _ *string) { *wf = "another-run" }, nil), moved},
		{"for another execution of the run", e.signed(4*time.Minute, "isolate", "U_IC1", k,
			func(_ *Vote, _, run *string) { *run = "another-execution" }, nil), moved},
		{"for a rejection", e.signed(5*time.Minute, "isolate", "U_IC1", k,
			func(v *Vote, _, _ *string) { v.Approve = false }, func(v *Vote) { v.Approve = true }), moved},
		{"with another comment", e.signed(6*time.Minute, "isolate", "U_IC1", k, nil, func(v *Vote) { v.Comment = "lgtm" }), moved},
		{"at another time", e.signed(7*time.Minute, "isolate", "U_IC1", k, nil, func(v *Vote) { v.SignedAt = v.SignedAt.Add(time.Second) }), moved},
		{"with another user's key", e.signed(8*time.Minute, "isolate", "U_IC2", k, nil, nil), "does not verify with U_IC2's key"},
		{"garbage", e.signed(9*time.Minute, "isolate", "U_IC1", k, nil, func(v *Vote) { v.Signature = "not base64!" }),
			"the vote's signature is not a base64 ed25519 signature"},
		{"flipped bit", e.signed(10*time.Minute, "isolate", "U_IC1", k, nil, func(v *Vote) {
			sig, _ := base64.StdEncoding.DecodeString(v.Signature)
			sig[0] ^= 1
			v.Signature = base64.StdEncoding.EncodeToString(sig)
		}), moved},
		{"stale", e.signed(11*time.Minute, "isolate", "U_IC1", k,
			func(v *Vote, _, _ *string) { v.SignedAt = v.SignedAt.Add(-11 * time.Minute) }, nil), "more than 10m0s from this run's clock"},
		{"from the future", e.signed(12*time.Minute, "isolate", "U_IC1", k,
			func(v *Vote, _, _ *string) { v.SignedAt = v.SignedAt.Add(11 * time.Minute) }, nil), "check the clock where you vote"},
		{"valid", e.signed(13*time.Minute, "isolate", "U_IC1", k, nil, nil), ""},
	}
	res := e.runFrom(load(t, twoApprovers), "slack")
	for _, c := range cases {
		if c.reason == "" {
			wantRefused(t, c.name, c.out)
		} else {
			wantRefused(t, c.name, c.out, c.reason)
		}
	}
	// Only the valid vote counted: the gate still waits for a second one.
	if res.Status != RunAborted || strings.Join(res.Steps[0].Approval.Approvers, ",") != "U_IC1" {
		t.Fatalf("status %s, approvers %v", res.Status, res.Steps[0].Approval.Approvers)
	}
}

// TestSignedVoteNeedsAKeyOnTheWorker: a user the worker has no key for
// cannot sign, whatever key the client used.
func TestSignedVoteNeedsAKeyOnTheWorker(t *testing.T) {
	e := newCLIEnv(t, "", "U_IC1")
	v := e.signed(time.Minute, "isolate", "U_IC2", testKey("U_IC2"), nil, nil)
	e.runFrom(load(t, twoApprovers), "slack")
	wantRefused(t, "no key", v, "U_IC2 has no CLI key in this worker's access.cli.keys", "vote from Slack")
}

// TestEscalatedApproverCanSign: the escalation group's keys come with the
// gate, so an approver who joins on escalation can sign.
func TestEscalatedApproverCanSign(t *testing.T) {
	e := newCLIEnv(t, activities.CLIApprovalsVerified, "U_EM")
	early := e.signed(5*time.Minute, "isolate", "U_EM", testKey("U_EM"), nil, nil)
	late := e.signed(20*time.Minute, "isolate", "U_EM", testKey("U_EM"), nil, nil)
	res := e.runFrom(load(t, header+`
steps:
  - id: isolate
    action: core.log
    with: {message: "isolate"}
    approval: {group: incident-commanders, timeout: 15m, on_timeout: escalate, escalate: engineering-managers}
`), "slack")
	wantRefused(t, "before escalation", early, "U_EM is not an approver")
	wantRefused(t, "after escalation", late)
	if res.Status != RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Error)
	}
}

// TestSignatureNamesItsUser: the signed message names the user, so even
// if two users shared a key (config refuses that) one's signed vote could
// not be re-sent as the other's.
func TestSignatureNamesItsUser(t *testing.T) {
	shared := testKey("U_IC1")
	pub := shared.Public().(ed25519.PublicKey)
	e := newCLIEnvKeys(t, "", map[string]ed25519.PublicKey{"U_IC1": pub, "U_IC2": pub})
	v := e.signed(time.Minute, "isolate", "U_IC1", shared, nil, func(v *Vote) { v.Approver = "U_IC2" })
	e.runFrom(load(t, twoApprovers), "slack")
	wantRefused(t, "re-sent as another user", v, "does not verify with U_IC2's key")
}

// TestUnsignedClaimForAKeyHolder: a user with a CLI key proves who they
// are, so an unsigned CLI approval in their name (someone else's, or their
// own without --key) is refused and does not use up their vote.
func TestUnsignedClaimForAKeyHolder(t *testing.T) {
	e := newCLIEnv(t, "", "U_IC1")
	claim := e.claim(time.Minute, "isolate", "U_IC1")
	signed := e.signed(2*time.Minute, "isolate", "U_IC1", testKey("U_IC1"), nil, nil)
	other := e.claim(3*time.Minute, "isolate", "U_IC2")
	res := e.runFrom(load(t, twoApprovers), "slack")
	wantRefused(t, "unsigned as a key holder", claim, "U_IC1 has a CLI key in access.cli.keys, so an unsigned CLI approval as U_IC1 is refused", "sign the vote with `--key FILE`")
	wantRefused(t, "the key holder, signed", signed)
	wantRefused(t, "unsigned as someone without a key", other)
	if strings.Join(res.Steps[0].Approval.Approvers, ",") != "U_IC1,U_IC2" {
		t.Fatalf("approvers %v", res.Steps[0].Approval.Approvers)
	}
}
