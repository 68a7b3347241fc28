package slack

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/activity"
	"golang.org/x/time/rate"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/workflows"
)

// Renderer implements activities.Renderer with this package's Block Kit.
type Renderer struct{}

// IncidentSummary implements activities.Renderer.
func (Renderer) IncidentSummary(c activities.IncidentCard) ([]goslack.Block, string) {
	return IncidentSummary(IncidentView{
		Key: c.Key, Title: c.Title, Severity: c.Severity, Status: c.Status,
		Commander: c.Commander, DeclaredBy: c.DeclaredBy, Channel: c.Channel, Suggested: c.Suggested,
	})
}

// Notifier holds the activities that keep a playbook run visible in its
// incident channel: the plan, one status message updated in place, and
// approval requests. Updates to a channel are paced to about one per
// second, Slack's guidance for chat.update, and an update that a newer
// one has overtaken is dropped.
type Notifier struct {
	API *goslack.Client
	// Groups names who to tag on approval requests.
	Groups *Groups
	Now    func() time.Time
	// Every is the pacing of updates per channel (default one second).
	Every time.Duration

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	latest   map[string]int // message key -> newest version seen
}

// Register adds the notifier's activities to a worker under the names
// workflows calls them by.
func (n *Notifier) Register(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	r.RegisterActivityWithOptions(n.PostRunPlan, activity.RegisterOptions{Name: workflows.ActivityPostRunPlan})
	r.RegisterActivityWithOptions(n.UpdateRunStatus, activity.RegisterOptions{Name: workflows.ActivityUpdateRunStatus})
	r.RegisterActivityWithOptions(n.PostApprovalRequest, activity.RegisterOptions{Name: workflows.ActivityPostApprovalRequest})
	r.RegisterActivityWithOptions(n.UpdateApprovalMessage, activity.RegisterOptions{Name: workflows.ActivityUpdateApproval})
}

func (n *Notifier) limiter(channel string) *rate.Limiter {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.limiters == nil {
		n.limiters = map[string]*rate.Limiter{}
	}
	l, ok := n.limiters[channel]
	if !ok {
		every := n.Every
		if every == 0 {
			every = time.Second
		}
		l = rate.NewLimiter(rate.Every(every), 1)
		n.limiters[channel] = l
	}
	return l
}

// overtaken records version for key and reports whether a newer one exists.
func (n *Notifier) overtaken(key string, version int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.latest == nil {
		n.latest = map[string]int{}
	}
	if n.latest[key] > version {
		return true
	}
	n.latest[key] = version
	return false
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// inlinePlanSteps is how many steps a plan message shows before the full
// plan goes into a file in its thread.
const inlinePlanSteps = 15

// PostRunPlan shows a run's plan before it changes anything. A long plan
// is summarised, with the full text as a file in the message's thread and
// a link to it.
func (n *Notifier) PostRunPlan(ctx context.Context, in workflows.RunPlanNotice) (workflows.SlackPosted, error) {
	defer heartbeat(ctx)()
	blocks, text := PlanMessage(in.Playbook, in.RunID, in.Plan, "")
	posted, earlier, err := n.postOnce(ctx, in.Channel, in.IdempotencyKey, blocks, text)
	if err != nil || in.Plan == nil || len(in.Plan.Steps) <= inlinePlanSteps {
		return posted, err
	}
	// An earlier attempt that got as far as linking the full plan marked
	// its message; one that did not is finished here.
	if earlier != nil && earlier.Payload[fullPlanLinked] == true {
		return posted, nil
	}
	full := planText(in)
	if _, err := n.API.UploadFileContext(ctx, goslack.UploadFileParameters{
		Content: full, FileSize: len(full), Filename: "plan.txt", Title: "Full plan of " + in.Playbook,
		Channel: posted.Channel, ThreadTimestamp: posted.TS,
	}); err != nil {
		return posted, activities.SlackError("upload full plan", err)
	}
	link, err := n.API.GetPermalinkContext(ctx, &goslack.PermalinkParameters{Channel: posted.Channel, Ts: posted.TS})
	if err != nil {
		return posted, activities.SlackError("link full plan", err)
	}
	blocks, text = PlanMessage(in.Playbook, in.RunID, in.Plan, link)
	var marked []goslack.MsgOption
	if in.IdempotencyKey != "" {
		marked = append(marked, goslack.MsgOptionMetadata(activities.KeyMetadata(in.IdempotencyKey, map[string]any{fullPlanLinked: true})))
	}
	return n.post(ctx, posted.Channel, posted.TS, blocks, text, marked...)
}

// fullPlanLinked marks a long plan's message once it links its full text.
const fullPlanLinked = "full_plan_linked"

// planText is a plan as plain text, every step and change.
func planText(in workflows.RunPlanNotice) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan of %s, run %s (hash %s)\n\n", in.Playbook, in.RunID, in.Plan.Hash)
	for i, s := range in.Plan.Steps {
		fmt.Fprintf(&b, "%d. %s: %s\n", i+1, s.ID, s.Summary)
		for _, c := range s.Changes {
			fmt.Fprintf(&b, "     - %s\n", c)
		}
		if s.Approval != nil {
			fmt.Fprintf(&b, "     approval: %d from %s\n", max(s.Approval.Min, 1), cmp.Or(s.Approval.Group, strings.Join(s.Approval.Users, ", ")))
		}
		if s.Note != "" {
			fmt.Fprintf(&b, "     (%s)\n", s.Note)
		}
	}
	return b.String()
}

// UpdateRunStatus posts the run's status message, or updates it in place.
func (n *Notifier) UpdateRunStatus(ctx context.Context, in workflows.RunStatusNotice) (workflows.SlackPosted, error) {
	defer heartbeat(ctx)()
	key := in.Channel + "/" + in.RunID
	if in.TS != "" && n.overtaken(key, in.Version) {
		return workflows.SlackPosted{Channel: in.Channel, TS: in.TS}, nil
	}
	if err := n.limiter(in.Channel).Wait(ctx); err != nil {
		return workflows.SlackPosted{}, err
	}
	if in.TS != "" && n.overtaken(key, in.Version) {
		return workflows.SlackPosted{Channel: in.Channel, TS: in.TS}, nil
	}
	blocks, text := RunStatusMessage(in.RunID, in.Status, n.now())
	if in.TS == "" {
		posted, _, err := n.postOnce(ctx, in.Channel, in.IdempotencyKey, blocks, text)
		return posted, err
	}
	return n.post(ctx, in.Channel, in.TS, blocks, text)
}

// PostApprovalRequest tags the approvers with the plan and the buttons.
func (n *Notifier) PostApprovalRequest(ctx context.Context, in workflows.ApprovalNotice) (workflows.SlackPosted, error) {
	defer heartbeat(ctx)()
	mention := ""
	if a := in.Step.Approval; a != nil {
		mention = n.Groups.Mention(a.Group, a.Eligible)
	}
	blocks, text := ApprovalRequest(in.RunID, in.Step, mention)
	posted, _, err := n.postOnce(ctx, in.Channel, in.IdempotencyKey, blocks, text)
	return posted, err
}

// UpdateApprovalMessage shows how an approval ended on its request
// message and removes the buttons.
func (n *Notifier) UpdateApprovalMessage(ctx context.Context, in workflows.ApprovalNotice) (workflows.SlackPosted, error) {
	defer heartbeat(ctx)()
	blocks, text := ApprovalClosed(in.RunID, in.Step, in.Outcome)
	return n.post(ctx, in.Channel, in.TS, blocks, text)
}

// heartbeat reports the activity alive every second until stopped, so a
// worker that dies mid-call is noticed within the heartbeat timeout
// (workflows.SlackHeartbeatTimeout). Outside an activity it does nothing.
func heartbeat(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// postOnce posts a new message marked with key, or returns the one an
// earlier attempt of the activity posted with it.
func (n *Notifier) postOnce(ctx context.Context, channel, key string, blocks []goslack.Block, text string) (workflows.SlackPosted, *activities.Posted, error) {
	opts := []goslack.MsgOption{goslack.MsgOptionBlocks(blocks...), goslack.MsgOptionText(text, false)}
	res, earlier, err := activities.PostMessageOnce(ctx, n.API, channel, "", key, nil, opts...)
	if err != nil {
		return workflows.SlackPosted{}, nil, activities.SlackError("post message", err)
	}
	return workflows.SlackPosted{Channel: res.Channel, TS: res.TS}, earlier, nil
}

// post updates the message ts, or posts a new one when ts is empty.
func (n *Notifier) post(ctx context.Context, channel, ts string, blocks []goslack.Block, text string, extra ...goslack.MsgOption) (workflows.SlackPosted, error) {
	opts := append([]goslack.MsgOption{goslack.MsgOptionBlocks(blocks...), goslack.MsgOptionText(text, false)}, extra...)
	if ts != "" {
		_, newTS, _, err := n.API.UpdateMessageContext(ctx, channel, ts, opts...)
		if err != nil {
			return workflows.SlackPosted{}, activities.SlackError("update message", err)
		}
		return workflows.SlackPosted{Channel: channel, TS: newTS}, nil
	}
	ch, newTS, err := n.API.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return workflows.SlackPosted{}, activities.SlackError("post message", err)
	}
	return workflows.SlackPosted{Channel: ch, TS: newTS}, nil
}

// mentionOf renders a member list as Slack mentions: user groups as
// <!subteam^S…>, users as <@U…>, capped so a big group stays one line.
func mentionOf(members []string) string {
	const shown = 10
	var parts []string
	for i, m := range members {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(members)-shown))
			break
		}
		if strings.HasPrefix(m, "S") {
			parts = append(parts, "<!subteam^"+m+">")
		} else {
			parts = append(parts, "<@"+m+">")
		}
	}
	return strings.Join(parts, " ")
}
