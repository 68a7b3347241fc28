package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/workflows"
)

func notifierWithFake(t *testing.T) (*Notifier, *slackfake.Server, string) {
	t.Helper()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	api := goslack.New(slackfake.DefaultBotToken, goslack.OptionAPIURL(fake.URL()))
	ch, err := api.CreateConversation(goslack.CreateConversationParams{ChannelName: "inc-2026-0001-test"})
	if err != nil {
		t.Fatal(err)
	}
	return &Notifier{API: api, Groups: &Groups{API: api}, Every: time.Millisecond}, fake, ch.ID
}

func statusWith(marker string) workflows.RunStatus {
	return workflows.RunStatus{Playbook: "p", Status: workflows.RunRunning, Steps: []workflows.StepState{{ID: "s1", Status: workflows.StepRunning, Summary: marker}}}
}

// TestRunStatusUpdatesKeepTheNewest sends overlapping updates of one
// message out of order: the message ends at the newest version, and an
// update that a newer one overtook is never sent.
func TestRunStatusUpdatesKeepTheNewest(t *testing.T) {
	n, fake, ch := notifierWithFake(t)
	ctx := context.Background()
	first, err := n.UpdateRunStatus(ctx, workflows.RunStatusNotice{Channel: ch, RunID: "r1", Status: statusWith("v1"), Version: 1})
	if err != nil || first.TS == "" {
		t.Fatalf("post: %v %+v", err, first)
	}
	if _, err := n.UpdateRunStatus(ctx, workflows.RunStatusNotice{Channel: ch, TS: first.TS, RunID: "r1", Status: statusWith("v5"), Version: 5}); err != nil {
		t.Fatal(err)
	}
	before := fake.Calls("chat.update")
	if _, err := n.UpdateRunStatus(ctx, workflows.RunStatusNotice{Channel: ch, TS: first.TS, RunID: "r1", Status: statusWith("v3"), Version: 3}); err != nil {
		t.Fatal(err)
	}
	if fake.Calls("chat.update") != before {
		t.Fatal("an overtaken update was sent")
	}
	var wg sync.WaitGroup
	for v := 6; v <= 12; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = n.UpdateRunStatus(ctx, workflows.RunStatusNotice{Channel: ch, TS: first.TS, RunID: "r1", Status: statusWith(fmt.Sprintf("v%d", v)), Version: v})
		}()
	}
	wg.Wait()
	msgs := fake.Messages(ch)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want the one status message", len(msgs))
	}
	if got := string(msgs[0].Blocks); !strings.Contains(got, "v12") {
		t.Fatalf("final message is not the newest: %s", got)
	}
}

func TestNotifierRateLimitIsRetryable(t *testing.T) {
	n, fake, ch := notifierWithFake(t)
	fake.InjectRateLimit("chat.postMessage", 1, 3*time.Second)
	_, err := n.UpdateRunStatus(context.Background(), workflows.RunStatusNotice{Channel: ch, RunID: "r1", Status: statusWith("v1"), Version: 1})
	if err == nil || !strings.Contains(err.Error(), "rate limited") {
		t.Fatalf("want a rate-limited activity error, got %v", err)
	}
}

func TestApprovalRequestMentionsTheGroup(t *testing.T) {
	n, fake, ch := notifierWithFake(t)
	n.Groups.Static = map[string][]string{"incident-commanders": {"S0ICS"}}
	step := workflows.StepState{ID: "isolate", Status: workflows.StepAwaitingApproval, Approval: &workflows.ApprovalState{
		Group: "incident-commanders", Eligible: []string{"U1", "U2"}, Min: 1, PlanHash: "abc", Open: true,
	}}
	if _, err := n.PostApprovalRequest(context.Background(), workflows.ApprovalNotice{Channel: ch, RunID: "r1", Step: step}); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages(ch)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "subteam^S0ICS") || !strings.Contains(string(msgs[0].Blocks), ActionApprove) {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestLongPlanLinksTheFullText(t *testing.T) {
	n, fake, ch := notifierWithFake(t)
	plan := &workflows.RunPlan{Hash: "h"}
	for i := range 40 {
		plan.Steps = append(plan.Steps, workflows.PlannedStep{ID: fmt.Sprintf("step-%02d", i), Summary: fmt.Sprintf("change %d", i)})
	}
	posted, err := n.PostRunPlan(context.Background(), workflows.RunPlanNotice{Channel: ch, RunID: "r1", Playbook: "big", Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	files := fake.Files()
	if len(files) != 1 || !strings.Contains(string(files[0].Content), "40. step-39: change 39") {
		t.Fatalf("files %+v", files)
	}
	var top, inThread int
	for _, m := range fake.Messages(ch) {
		switch {
		case m.ThreadTS == "" && m.TS == posted.TS && strings.Contains(string(m.Blocks), "/archives/"+ch+"/p") && strings.Contains(string(m.Blocks), "full plan"):
			top++
		case m.ThreadTS == posted.TS && len(m.Files) == 1:
			inThread++
		}
	}
	if top != 1 || inThread != 1 {
		t.Fatalf("want the plan message linking its thread, and the file in that thread; got %d and %d", top, inThread)
	}
}

// TestApprovalMessageShowsAClosedGate: however the gate closed, the
// request message says how, loses its buttons, and claims no run state
// (it is not updated again, so "running" would stay there forever).
func TestApprovalMessageShowsAClosedGate(t *testing.T) {
	for _, tc := range []struct {
		name, outcome, status string
		approvers             []string
		rejectedBy            string
		want                  string
	}{
		{"approved", workflows.GateApproved, workflows.StepRunning, []string{"U0IC1", "U0IC2"}, "", "Approved by <@U0IC1> and <@U0IC2>"},
		{"rejected", workflows.GateRejected, workflows.StepRejected, []string{"U0IC1"}, "U0IC2", "Rejected by <@U0IC2>"},
		{"timed out", workflows.GateTimedOut, workflows.StepAborted, []string{"U0IC1"}, "", "Timed out without a decision, with 1 of 2 approvals (<@U0IC1>)"},
		{"aborted", workflows.GateAborted, workflows.StepAwaitingApproval, nil, "", "Closed without a decision: the run was aborted, with 0 of 2 approvals"},
		// Activities scheduled before Outcome existed read the step.
		{"approved, no outcome", "", workflows.StepRunning, []string{"U0IC1", "U0IC2"}, "", "Approved by <@U0IC1> and <@U0IC2>"},
		{"timed out, no outcome", "", workflows.StepAborted, nil, "", "Timed out without a decision"},
		{"aborted, no outcome", "", workflows.StepAwaitingApproval, nil, "", "Closed without a decision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, fake, ch := notifierWithFake(t)
			step := workflows.StepState{ID: "isolate", Status: workflows.StepAwaitingApproval, Approval: &workflows.ApprovalState{
				Group: "ops", Eligible: []string{"U0IC1", "U0IC2"}, Min: 2, PlanHash: "abc", Open: true,
			}}
			posted, err := n.PostApprovalRequest(context.Background(), workflows.ApprovalNotice{Channel: ch, RunID: "r1", Step: step})
			if err != nil {
				t.Fatal(err)
			}
			step.Status, step.Approval.Open = tc.status, false
			step.Approval.Approvers, step.Approval.RejectedBy = tc.approvers, tc.rejectedBy
			if _, err := n.UpdateApprovalMessage(context.Background(), workflows.ApprovalNotice{Channel: ch, RunID: "r1", Step: step, TS: posted.TS, Outcome: tc.outcome}); err != nil {
				t.Fatal(err)
			}
			msgs := fake.Messages(ch)
			if len(msgs) != 1 || msgs[0].Edits != 1 {
				t.Fatalf("want the request updated in place: %+v", msgs)
			}
			blocks := decoded(t, msgs[0].Blocks)
			if !strings.Contains(blocks, tc.want) || strings.Contains(blocks, ActionApprove) {
				t.Fatalf("closed gate lacks %q or still offers buttons: %s", tc.want, blocks)
			}
			for _, stale := range []string{"running", "awaiting", "decide by"} {
				if strings.Contains(strings.ToLower(blocks+msgs[0].Text), stale) {
					t.Fatalf("closed gate claims %q, which goes stale: %s", stale, blocks)
				}
			}
		})
	}
}

// decoded is a message's blocks as text, with the JSON escapes of < and >
// undone, so tests can look for mrkdwn such as <@U0IC1>.
func decoded(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("blocks: %v", err)
	}
	return fmt.Sprint(v)
}
