package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/workflows"
)

// topLevel are a channel's messages outside threads.
func topLevel(fake *slackfake.Server, channel string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range fake.Messages(channel) {
		if m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}

// twice calls post two times, as Temporal retries an activity whose
// first attempt posted but never reported back, and checks both attempts
// name the same message.
func twice(t *testing.T, post func() (string, error)) {
	t.Helper()
	first, err := post()
	if err != nil {
		t.Fatal(err)
	}
	again, err := post()
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if first == "" || again != first {
		t.Fatalf("the retry answered message %q, the first attempt %q", again, first)
	}
}

// TestSlackPostsAreIdempotent: each posting activity, retried after a
// successful post with the same idempotency key, leaves one message.
func TestSlackPostsAreIdempotent(t *testing.T) {
	long := &workflows.RunPlan{Hash: "h"}
	for i := range 20 {
		long.Steps = append(long.Steps, workflows.PlannedStep{ID: fmt.Sprintf("step-%02d", i), Summary: "change"})
	}
	step := workflows.StepState{ID: "isolate", Status: workflows.StepAwaitingApproval, Approval: &workflows.ApprovalState{
		Group: "ops", Eligible: []string{"U0IC1"}, Min: 1, PlanHash: "abc", Open: true,
	}}
	card := activities.IncidentCard{Key: "INC-2026-0001", Title: "Disk full", Severity: "SEV3", Status: "declared", DeclaredBy: "U0DECL"}
	for _, tc := range []struct {
		name string
		post func(n *Notifier, s *activities.Slack, ch, key string) (string, error)
	}{
		{"plan", func(n *Notifier, _ *activities.Slack, ch, key string) (string, error) {
			p, err := n.PostRunPlan(context.Background(), workflows.RunPlanNotice{Channel: ch, RunID: "r1", Playbook: "p", Plan: &workflows.RunPlan{Hash: "h"}, IdempotencyKey: key})
			return p.TS, err
		}},
		{"long plan", func(n *Notifier, _ *activities.Slack, ch, key string) (string, error) {
			p, err := n.PostRunPlan(context.Background(), workflows.RunPlanNotice{Channel: ch, RunID: "r1", Playbook: "p", Plan: long, IdempotencyKey: key})
			return p.TS, err
		}},
		{"run status", func(n *Notifier, _ *activities.Slack, ch, key string) (string, error) {
			p, err := n.UpdateRunStatus(context.Background(), workflows.RunStatusNotice{Channel: ch, RunID: "r1", Status: statusWith("v1"), Version: 1, IdempotencyKey: key})
			return p.TS, err
		}},
		{"approval request", func(n *Notifier, _ *activities.Slack, ch, key string) (string, error) {
			p, err := n.PostApprovalRequest(context.Background(), workflows.ApprovalNotice{Channel: ch, RunID: "r1", Step: step, IdempotencyKey: key})
			return p.TS, err
		}},
		{"incident summary", func(_ *Notifier, s *activities.Slack, ch, key string) (string, error) {
			p, err := s.PostIncidentSummary(context.Background(), activities.SummaryInput{Channel: ch, Card: card, IdempotencyKey: key})
			return p.TS, err
		}},
		{"announcement", func(_ *Notifier, s *activities.Slack, ch, key string) (string, error) {
			p, err := s.Announce(context.Background(), activities.AnnounceInput{Channel: ch, Card: card, IdempotencyKey: key})
			return p.TS, err
		}},
		{"plain post", func(_ *Notifier, s *activities.Slack, ch, key string) (string, error) {
			p, err := s.Post(context.Background(), activities.PostInput{Channel: ch, Text: "hello", IdempotencyKey: key})
			return p.TS, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, fake, ch := notifierWithFake(t)
			s := &activities.Slack{API: n.API, Render: Renderer{}}
			twice(t, func() (string, error) { return tc.post(n, s, ch, "wf/run/"+tc.name) })
			if got := topLevel(fake, ch); len(got) != 1 {
				t.Fatalf("%d messages after a retried post, want 1", len(got))
			}
			if tc.name == "long plan" && len(fake.Files()) != 1 {
				t.Fatalf("%d full-plan files after a retried post, want 1", len(fake.Files()))
			}
			// Another key is another post: the lookup does not match too much.
			if _, err := tc.post(n, s, ch, "wf/run/"+tc.name+"-other"); err != nil {
				t.Fatal(err)
			}
			if got := topLevel(fake, ch); len(got) != 2 {
				t.Fatalf("%d messages after a post with another key, want 2", len(got))
			}
		})
	}
}

func TestPostInThreadIsIdempotent(t *testing.T) {
	n, fake, ch := notifierWithFake(t)
	s := &activities.Slack{API: n.API, Render: Renderer{}}
	parent, err := s.Post(context.Background(), activities.PostInput{Channel: ch, Text: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	twice(t, func() (string, error) {
		p, err := s.Post(context.Background(), activities.PostInput{Channel: ch, Text: "reply", Thread: parent.TS, IdempotencyKey: "wf/run/reply"})
		return p.TS, err
	})
	if got := len(fake.Messages(ch)); got != 2 {
		t.Fatalf("%d messages (parent and replies), want 2", got)
	}
}

// TestPostsWithoutKeysOrHistory: no key posts as before; a channel the
// bot cannot read (a public one it posts to with chat:write.public) is
// still posted to.
func TestPostsWithoutKeysOrHistory(t *testing.T) {
	fake := slackfake.New(slackfake.WithChatWritePublic())
	t.Cleanup(fake.Close)
	api := goslack.New(slackfake.DefaultBotToken, goslack.OptionAPIURL(fake.URL()))
	s := &activities.Slack{API: api, Render: Renderer{}}
	announce := fake.AddChannel("", "announcements")
	for range 2 {
		if _, err := s.Post(context.Background(), activities.PostInput{Channel: announce, Text: "no key"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Post(context.Background(), activities.PostInput{Channel: announce, Text: "keyed", IdempotencyKey: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(fake.Messages(announce)); got != 4 {
		t.Fatalf("%d messages, want 4 (the bot cannot read this channel, so keys cannot dedupe)", got)
	}
	// A lookup Slack fails for another reason is retried, not skipped.
	ch, err := api.CreateConversation(goslack.CreateConversationParams{ChannelName: "inc-2026-0002-x"})
	if err != nil {
		t.Fatal(err)
	}
	fake.InjectError("conversations.history", "internal_error", 1)
	if _, err := s.Post(context.Background(), activities.PostInput{Channel: ch.ID, Text: "keyed", IdempotencyKey: "k2"}); err == nil {
		t.Fatal("a failed lookup posted anyway")
	}
	if got := len(fake.Messages(ch.ID)); got != 0 {
		t.Fatalf("%d messages after a failed lookup, want 0", got)
	}
}

// failFirstAttempt wraps a posting activity so that its first attempt
// posts and then fails, as a worker that dies before reporting would.
func failFirstAttempt[In, Out any](post func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		out, err := post(ctx, in)
		if err == nil && activity.GetInfo(ctx).Attempt == 1 {
			return out, errors.New("worker died after posting")
		}
		return out, err
	}
}

func override(env *testsuite.TestWorkflowEnvironment, name string, fn any) {
	env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name, DisableAlreadyRegisteredCheck: true})
}

// TestRetriedRunPostsDoNotRepeat runs a gated playbook whose every Slack
// post fails once after posting: the workflow's idempotency keys keep the
// channel at one plan, one status message and one approval request.
func TestRetriedRunPostsDoNotRepeat(t *testing.T) {
	e := newRunEnv(t)
	n := &Notifier{API: goslack.New(slackfake.DefaultBotToken, goslack.OptionAPIURL(e.fake.URL())), Groups: &Groups{}, Every: time.Millisecond}
	override(e.env, workflows.ActivityPostRunPlan, failFirstAttempt(n.PostRunPlan))
	override(e.env, workflows.ActivityPostApprovalRequest, failFirstAttempt(n.PostApprovalRequest))
	override(e.env, workflows.ActivityUpdateRunStatus, failFirstAttempt(n.UpdateRunStatus))
	e.update(time.Minute, workflows.UpdateApprove, func() any {
		return workflows.Vote{StepID: "isolate", Approver: "U0IC1", PlanHash: e.planHash(), Approve: true, Origin: "slack", Channel: e.channel}
	})
	if res := e.run(); res.Status != workflows.RunSucceeded {
		t.Fatalf("run %s: %s", res.Status, res.Error)
	}
	kinds := map[string]int{}
	for _, m := range topLevel(e.fake, e.channel) {
		blocks := decoded(t, m.Blocks)
		switch {
		case strings.Contains(blocks, "Plan: gated"):
			kinds["plan"]++
		case strings.Contains(blocks, "approval.head"):
			kinds["approval"]++
		case strings.Contains(blocks, "*gated* run"):
			kinds["status"]++
		default:
			kinds["other"]++
		}
		var md goslack.SlackMetadata
		if err := json.Unmarshal(m.Metadata, &md); err != nil || !strings.HasPrefix(fmt.Sprint(md.EventPayload["idempotency_key"]), "default-test-workflow-id/") {
			t.Errorf("message without the run's idempotency key: %s (%v)", m.Metadata, err)
		}
	}
	if kinds["plan"] != 1 || kinds["approval"] != 1 || kinds["status"] != 1 || kinds["other"] != 0 {
		t.Fatalf("messages by kind %v, want one plan, one approval request and one status message", kinds)
	}
}

// TestRetriedIncidentPostsDoNotRepeat: the incident's summary and its
// announcement, each failing once after posting, are posted once.
func TestRetriedIncidentPostsDoNotRepeat(t *testing.T) {
	env, fake, s := incidentEnv(t)
	announce := fake.AddChannel("", "incidents", slackfake.Members(fake.BotUserID()))
	override(env, "PostIncidentSummary", failFirstAttempt(s.PostIncidentSummary))
	override(env, "Announce", failFirstAttempt(s.Announce))
	override(env, "Post", failFirstAttempt(s.Post))
	env.ExecuteWorkflow(workflows.IncidentWorkflow, workflows.IncidentInput{
		Key: "INC-2026-0007", Title: "Disk full", Severity: "sev3", DeclaredBy: "U0DECL", Origin: "test",
		Slack: &workflows.IncidentSlack{Announce: announce},
	})
	var incident string
	for _, c := range fake.Channels() {
		if strings.HasPrefix(c.Name, "inc-2026-0007") {
			incident = c.ID
		}
	}
	if incident == "" {
		t.Fatal("no incident channel")
	}
	if got := topLevel(fake, incident); len(got) != 1 {
		t.Fatalf("%d messages in the incident channel, want the one summary", len(got))
	}
	if got := topLevel(fake, announce); len(got) != 1 {
		t.Fatalf("%d announcements, want 1", len(got))
	}
}

// incidentEnv runs IncidentWorkflow in the testsuite with the real Slack
// activities on slackfake; the incident is cancelled an hour in.
func incidentEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *slackfake.Server, *activities.Slack) {
	t.Helper()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	api := goslack.New(slackfake.DefaultBotToken, goslack.OptionAPIURL(fake.URL()))
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	s := &activities.Slack{API: api, Render: Renderer{}}
	env.RegisterWorkflow(workflows.IncidentWorkflow)
	env.RegisterActivity(s)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
	return env, fake, s
}
