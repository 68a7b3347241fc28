package slack

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
)

const gatedPlaybook = `apiVersion: firebreak/v1
kind: Playbook
metadata: {name: gated, title: One gated step}
steps:
  - id: isolate
    action: core.log
    with: {message: isolate}
    approval: {group: ops, min: 1, timeout: 10m}
  - id: after
    action: core.log
    with: {message: after}
`

// runEnv runs PlaybookWorkflow in Temporal's testsuite with the real
// notifier posting to slackfake, so the run's Slack messages are what a
// channel would show.
type runEnv struct {
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	fake    *slackfake.Server
	channel string
	reg     *activities.Registry
	// started records every Slack activity the run started.
	started []*activity.Info
	notices []workflows.ApprovalNotice
}

func newRunEnv(t *testing.T) *runEnv {
	t.Helper()
	n, fake, ch := notifierWithFake(t)
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	e := &runEnv{t: t, env: s.NewTestWorkflowEnvironment(), fake: fake, channel: ch}
	reg, err := activities.NewRegistry(activities.CoreActions()...)
	if err != nil {
		t.Fatal(err)
	}
	e.reg = reg
	e.env.RegisterWorkflow(workflows.PlaybookWorkflow)
	e.env.RegisterActivity(&activities.Steps{Registry: reg, Groups: activities.StaticGroups{"ops": {"U0IC1", "U0IC2"}}})
	n.Register(e.env)
	e.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		switch info.ActivityType.Name {
		case workflows.ActivityPostRunPlan, workflows.ActivityUpdateRunStatus, workflows.ActivityPostApprovalRequest, workflows.ActivityUpdateApproval:
			e.started = append(e.started, info)
		}
		if info.ActivityType.Name == workflows.ActivityUpdateApproval {
			var in workflows.ApprovalNotice
			if err := args.Get(&in); err == nil {
				e.notices = append(e.notices, in)
			}
		}
	})
	return e
}

func (e *runEnv) update(at time.Duration, name string, arg func() any) {
	e.env.RegisterDelayedCallback(func() {
		e.env.UpdateWorkflow(name, name, &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { e.t.Errorf("%s refused: %v", name, err) },
			OnComplete: func(any, error) {},
		}, arg())
	}, at)
}

func (e *runEnv) planHash() string {
	v, err := e.env.QueryWorkflow(workflows.QueryStatus)
	if err != nil {
		e.t.Fatal(err)
	}
	var st workflows.RunStatus
	if err := v.Get(&st); err != nil {
		e.t.Fatal(err)
	}
	for _, s := range st.Steps {
		if s.Approval != nil {
			return s.Approval.PlanHash
		}
	}
	e.t.Fatal("no approval step in the run's status")
	return ""
}

func (e *runEnv) run() workflows.PlaybookResult {
	e.t.Helper()
	pb, err := playbooks.Parse([]byte(gatedPlaybook), "gated.yaml", e.reg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.env.ExecuteWorkflow(workflows.PlaybookWorkflow, workflows.PlaybookInput{
		Playbook: pb, Requester: "U0REQ", Origin: "test", Slack: &workflows.RunSlack{Channel: e.channel},
	})
	if !e.env.IsWorkflowCompleted() {
		e.t.Fatal("the run did not complete")
	}
	var res workflows.PlaybookResult
	if err := e.env.GetWorkflowResult(&res); err != nil {
		e.t.Fatal(err)
	}
	return res
}

// approvalMessage is the approval request as the channel shows it at the end.
func (e *runEnv) approvalMessage() string {
	e.t.Helper()
	for _, m := range e.fake.Messages(e.channel) {
		if strings.Contains(string(m.Blocks), "approval.head") {
			return decoded(e.t, m.Blocks)
		}
	}
	e.t.Fatalf("no approval request among %d messages", len(e.fake.Messages(e.channel)))
	return ""
}

// TestClosedApprovalSaysHowItClosed runs a gated playbook to its end each
// way its gate can close: the request message says how, and nothing that
// stops being true once the run goes on.
func TestClosedApprovalSaysHowItClosed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		act     func(e *runEnv)
		outcome string
		want    string
	}{
		{"approved", func(e *runEnv) {
			e.update(time.Minute, workflows.UpdateApprove, func() any {
				return workflows.Vote{StepID: "isolate", Approver: "U0IC1", PlanHash: e.planHash(), Approve: true, Origin: "test"}
			})
		}, workflows.GateApproved, "Approved by <@U0IC1>"},
		{"rejected", func(e *runEnv) {
			e.update(time.Minute, workflows.UpdateApprove, func() any {
				return workflows.Vote{StepID: "isolate", Approver: "U0IC2", PlanHash: e.planHash(), Approve: false, Origin: "test"}
			})
		}, workflows.GateRejected, "Rejected by <@U0IC2>"},
		{"timed out", func(*runEnv) {}, workflows.GateTimedOut, "Timed out without a decision, with 0 of 1 approvals"},
		{"aborted", func(e *runEnv) {
			e.update(time.Minute, workflows.UpdateAbort, func() any {
				return workflows.AbortRequest{Actor: "U0IC1", Reason: "false alarm", Origin: "test"}
			})
		}, workflows.GateAborted, "the run was aborted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRunEnv(t)
			tc.act(e)
			e.run()
			if len(e.notices) != 1 || e.notices[0].Outcome != tc.outcome {
				t.Fatalf("UpdateApprovalMessage inputs %+v, want one with outcome %q", e.notices, tc.outcome)
			}
			msg := e.approvalMessage()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, ActionApprove) {
				t.Fatalf("closed request lacks %q or keeps its buttons: %s", tc.want, msg)
			}
			if strings.Contains(strings.ToLower(msg), "running") {
				t.Fatalf("closed request claims a run state that goes stale: %s", msg)
			}
		})
	}
}
