package slack

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
)

// signalTemporal records declare signals and fails the first ones with
// the errors given.
type signalTemporal struct {
	client.Client
	mu      sync.Mutex
	fail    []error
	signals []workflows.DeclareRequest
}

func (s *signalTemporal) SignalWithStartWorkflow(_ context.Context, workflowID, signalName string, arg any, opts client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if workflowID != workflows.RegistryWorkflowID || opts.ID != workflowID || signalName != workflows.SignalDeclare {
		return nil, serviceerror.NewInvalidArgument("unexpected signal " + signalName + " to " + workflowID)
	}
	s.signals = append(s.signals, arg.(workflows.DeclareRequest))
	if len(s.fail) > 0 {
		err := s.fail[0]
		s.fail = s.fail[1:]
		return nil, err
	}
	return nil, nil
}

func (s *signalTemporal) sent() []workflows.DeclareRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]workflows.DeclareRequest(nil), s.signals...)
}

func declareBot(t *testing.T, tc *signalTemporal) (*Bot, *slackfake.Server) {
	t.Helper()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	api := goslack.New(slackfake.DefaultBotToken, goslack.OptionAPIURL(fake.URL()))
	bot, err := NewBot(Options{
		API: api, Temporal: tc, Groups: &Groups{API: api}, TaskQueue: "firebreak",
		Playbooks: func() ([]*playbooks.Playbook, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return bot, fake
}

func declareCommand(fake *slackfake.Server, trigger string) goslack.SlashCommand {
	return goslack.SlashCommand{
		Command: "/incident", Text: `declare "DB down" sev2`, UserID: "U0DECL", ChannelID: "C0GENERAL", ChannelName: "general",
		TriggerID: trigger, ResponseURL: fake.NewResponseURL(),
	}
}

func TestDeclareAcksAfterOneSignal(t *testing.T) {
	tc := &signalTemporal{}
	bot, fake := declareBot(t, tc)
	out := bot.HandleCommand(context.Background(), declareCommand(fake, "trig-1"))
	bot.Wait()
	if out.ResponseType != goslack.ResponseTypeInChannel || !strings.Contains(out.Text, "<@U0DECL> is declaring *DB down* (SEV2)") {
		t.Fatalf("ack: %+v", out)
	}
	sent := tc.sent()
	if len(sent) != 1 {
		t.Fatalf("%d signals, want 1", len(sent))
	}
	if d := sent[0]; d.RequestID != "trig-1" || d.DeclaredBy != "U0DECL" || d.Title != "DB down" || d.Slack == nil || d.Slack.DeclaredIn != "C0GENERAL" {
		t.Fatalf("declare sent: %+v", d)
	}
}

// TestDeclarePrivateAckTellsOnlyTheDeclarer: the channel a private
// incident is declared in learns nothing of it from the ack.
func TestDeclarePrivateAckTellsOnlyTheDeclarer(t *testing.T) {
	tc := &signalTemporal{}
	bot, fake := declareBot(t, tc)
	cmd := declareCommand(fake, "trig-private")
	cmd.Text = `declare "Insider exfiltration" sev1 private`
	out := bot.HandleCommand(context.Background(), cmd)
	bot.Wait()
	if out.ResponseType != goslack.ResponseTypeEphemeral || strings.Contains(out.Text, "Insider") || !strings.Contains(out.Text, "private incident") {
		t.Fatalf("private ack %+v", out)
	}
	if sent := tc.sent(); len(sent) != 1 || !sent[0].Slack.Private {
		t.Fatalf("declares sent: %+v", sent)
	}
}

// TestDeclareBusyIsQueuedAndRetried: Temporal turns the declare away
// twice; the person is told it is queued, and the bot retries with the
// same request ID until it is taken, then acks in the channel.
func TestDeclareBusyIsQueuedAndRetried(t *testing.T) {
	tc := &signalTemporal{fail: []error{
		serviceerror.NewResourceExhausted(0, "too many requests"),
		context.DeadlineExceeded,
	}}
	bot, fake := declareBot(t, tc)
	cmd := declareCommand(fake, "trig-busy")
	out := bot.HandleCommand(context.Background(), cmd)
	if out.ResponseType != goslack.ResponseTypeEphemeral || !strings.Contains(out.Text, "Firebreak is busy") || !strings.Contains(out.Text, "queued") {
		t.Fatalf("busy answer: %+v", out)
	}
	if strings.Contains(out.Text, "went wrong") {
		t.Fatalf("overload reported as an internal error: %s", out.Text)
	}
	bot.Wait() // the retries and the response_url post are background work
	sent := tc.sent()
	if len(sent) != 3 {
		t.Fatalf("%d signals, want 3 (two turned away, one taken)", len(sent))
	}
	for _, d := range sent {
		if d.RequestID != "trig-busy" {
			t.Fatalf("a retry changed the request ID: %+v", d)
		}
	}
	rs := fake.Responses(cmd.ResponseURL)
	if len(rs) != 1 {
		t.Fatalf("want one response_url post, got %d", len(rs))
	}
	var posted reply
	if err := json.Unmarshal(rs[0], &posted); err != nil {
		t.Fatal(err)
	}
	if posted.ResponseType != goslack.ResponseTypeInChannel || !strings.Contains(posted.Text, "is declaring *DB down*") {
		t.Fatalf("after the retry: %+v", posted)
	}
}

func TestDeclareRetryGivesUpHonestly(t *testing.T) {
	retries := declareRetry{attempts: 4, first: time.Millisecond, max: 4 * time.Millisecond}
	var fail []error
	for range retries.attempts {
		fail = append(fail, serviceerror.NewUnavailable("connection refused"))
	}
	tc := &signalTemporal{fail: fail}
	bot, fake := declareBot(t, tc)
	cmd := declareCommand(fake, "trig-down")
	req := asker{User: cmd.UserID, Channel: cmd.ChannelID, ID: cmd.TriggerID, ResponseURL: cmd.ResponseURL}
	parsed, err := ParseCommand(cmd.Text)
	if err != nil {
		t.Fatal(err)
	}
	bot.retryDeclare(req, parsed, workflows.DeclareRequest{Title: "DB down", DeclaredBy: "U0DECL", RequestID: "trig-down"}, inChannel("ack"), retries)
	bot.Wait()
	if n := len(tc.sent()); n != retries.attempts-1 {
		t.Fatalf("%d retries, want %d", n, retries.attempts-1)
	}
	rs := fake.Responses(cmd.ResponseURL)
	if len(rs) != 1 {
		t.Fatalf("want one response_url post, got %d", len(rs))
	}
	var posted reply
	if err := json.Unmarshal(rs[0], &posted); err != nil {
		t.Fatal(err)
	}
	if posted.ResponseType != goslack.ResponseTypeEphemeral || !strings.Contains(posted.Text, "could not take your declare") || !strings.Contains(posted.Text, "declare again") {
		t.Fatalf("after giving up: %+v", posted)
	}

	// A refusal (not a timeout) ends the retries at once.
	tc.fail = []error{serviceerror.NewInvalidArgument("payload too large")}
	bot.retryDeclare(req, parsed, workflows.DeclareRequest{Title: "DB down", DeclaredBy: "U0DECL", RequestID: "trig-down"}, inChannel("ack"), retries)
	bot.Wait()
	if n := len(tc.sent()); n != retries.attempts {
		t.Fatalf("retried after a refusal: %d signals, want %d", n, retries.attempts)
	}
}

func TestDeclareRefusalsSendNothing(t *testing.T) {
	tc := &signalTemporal{fail: []error{serviceerror.NewInvalidArgument("payload too large")}}
	bot, fake := declareBot(t, tc)
	// A request without a trigger ID could not be retried safely.
	out := bot.HandleCommand(context.Background(), declareCommand(fake, ""))
	if out.ResponseType != goslack.ResponseTypeEphemeral || !strings.Contains(out.Text, "request ID") {
		t.Fatalf("declare without a trigger ID: %+v", out)
	}
	if n := len(tc.sent()); n != 0 {
		t.Fatalf("a refused declare sent %d signals", n)
	}
	// Temporal refusing the signal is not retried: sending it again
	// would be refused the same way.
	out = bot.HandleCommand(context.Background(), declareCommand(fake, "trig-2"))
	bot.Wait()
	if out.ResponseType != goslack.ResponseTypeEphemeral || !strings.Contains(out.Text, "Could not declare") {
		t.Fatalf("refused signal: %+v", out)
	}
	if n := len(tc.sent()); n != 1 {
		t.Fatalf("a refused signal was sent %d times", n)
	}
}
