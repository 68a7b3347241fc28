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
	n       *Notifier
	// started records every Slack activity the run started.
	started []*activity.Info
	notices []workflows.ApprovalNotice
	// beats counts heartbeats by activity type.
	beats map[string]int
}

func newRunEnv(t *testing.T) *runEnv {
	t.Helper()
	n, fake, ch := notifierWithFake(t)
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	e := &runEnv{t: t, env: s.NewTestWorkflowEnvironment(), fake: fake, channel: ch, n: n, beats: map[string]int{}}
	reg, err := activities.NewRegistry(activities.CoreActions()...)
	if err != nil {
		t.Fatal(err)
	}
	e.reg = reg
	e.env.RegisterWorkflow(workflows.PlaybookWorkflow)
	e.env.RegisterActivity(&activities.Steps{Registry: reg, Groups: activities.StaticGroups{"ops": {"U0IC1", "U0IC2"}}})
	n.Register(e.env)
	e.env.SetOnActivityHeartbeatListener(func(info *activity.Info, _ converter.EncodedValues) {
		e.beats[info.ActivityType.Name]++
	})
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
		Playbook: pb, Requester: "U0REQ", Origin: "slack", Slack: &workflows.RunSlack{Channel: e.channel},
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
				return workflows.Vote{StepID: "isolate", Approver: "U0IC1", PlanHash: e.planHash(), Approve: true, Origin: "slack", Channel: e.channel}
			})
		}, workflows.GateApproved, "Approved by <@U0IC1>"},
		{"rejected", func(e *runEnv) {
			e.update(time.Minute, workflows.UpdateApprove, func() any {
				return workflows.Vote{StepID: "isolate", Approver: "U0IC2", PlanHash: e.planHash(), Approve: false, Origin: "slack", Channel: e.channel}
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

// TestRunMessagesSurviveADeadWorker: the notifier's activities heartbeat
// while they work (here, while a status update waits for the channel's
// pacing) under a short heartbeat timeout, so an attempt lost with a
// killed worker is retried within seconds, not after its start-to-close
// timeout.
func TestRunMessagesSurviveADeadWorker(t *testing.T) {
	e := newRunEnv(t)
	e.n.Every = 1500 * time.Millisecond // the second status update waits past one heartbeat
	e.update(time.Minute, workflows.UpdateApprove, func() any {
		return workflows.Vote{StepID: "isolate", Approver: "U0IC1", PlanHash: e.planHash(), Approve: true, Origin: "slack", Channel: e.channel}
	})
	if res := e.run(); res.Status != workflows.RunSucceeded {
		t.Fatalf("run %s: %s", res.Status, res.Error)
	}
	if len(e.started) == 0 {
		t.Fatal("the run started no Slack activity")
	}
	for _, info := range e.started {
		if info.HeartbeatTimeout <= 0 || info.HeartbeatTimeout > 10*time.Second {
			t.Errorf("%s: heartbeat timeout %s; a dead worker's attempt would wait out %s", info.ActivityType.Name, info.HeartbeatTimeout, info.Deadline.Sub(info.StartedTime))
		}
		if info.Attempt != 1 {
			t.Errorf("%s needed attempt %d: a live activity missed its heartbeats", info.ActivityType.Name, info.Attempt)
		}
	}
	if e.beats[workflows.ActivityUpdateRunStatus] == 0 {
		t.Errorf("UpdateRunStatus never heartbeat while it waited (heartbeats %v)", e.beats)
	}
}

// TestIncidentSlackActivitiesTimeOutSoon: the incident's Slack
// activities have a short start-to-close timeout, so one lost with a
// crashed worker is retried within seconds.
func TestIncidentSlackActivitiesTimeOutSoon(t *testing.T) {
	env, _, _ := incidentEnv(t)
	var started []*activity.Info
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		started = append(started, info)
	})
	env.ExecuteWorkflow(workflows.IncidentWorkflow, workflows.IncidentInput{
		Key: "INC-2026-0008", Title: "Disk full", Severity: "sev3", DeclaredBy: "U0DECL", Origin: "test",
		Slack: &workflows.IncidentSlack{},
	})
	if len(started) < 3 {
		t.Fatalf("only %d Slack activities started", len(started))
	}
	for _, info := range started {
		if d := info.Deadline.Sub(info.StartedTime); d <= 0 || d > 15*time.Second {
			t.Errorf("%s: start-to-close %s; a crashed worker's attempt waits that long", info.ActivityType.Name, d)
		}
	}
}
