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
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-ir/firebreak/integrations/config"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// jsonValue answers a query as Temporal's client would: a value to decode.
type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return j.v != nil }

func (j jsonValue) Get(ptr any) error {
	b, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

// updated is an update that completed with a result.
type updated struct {
	client.WorkflowUpdateHandle
	result any
}

func (u updated) Get(_ context.Context, ptr any) error { return jsonValue{u.result}.Get(ptr) }

// waitTemporal is an incident with runs whose statuses it answers, and a
// run that takes extend_wait updates or refuses them with refuse.
type waitTemporal struct {
	client.Client
	incident workflows.IncidentState
	runs     map[string]workflows.RunStatus
	refuse   string

	mu   sync.Mutex
	sent []client.UpdateWorkflowOptions
}

var _ converter.EncodedValue = jsonValue{}

func (w *waitTemporal) QueryWorkflow(_ context.Context, workflowID, _, _ string, _ ...any) (converter.EncodedValue, error) {
	if workflowID == workflows.IncidentWorkflowID(w.incident.Key) {
		return jsonValue{w.incident}, nil
	}
	if rs, ok := w.runs[workflowID]; ok {
		return jsonValue{rs}, nil
	}
	return nil, serviceerror.NewNotFound("workflow not found")
}

func (w *waitTemporal) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	w.mu.Lock()
	w.sent = append(w.sent, opts)
	w.mu.Unlock()
	if w.refuse != "" {
		return nil, temporal.NewApplicationError(w.refuse, "")
	}
	x := opts.Args[0].(workflows.WaitExtension)
	return updated{result: workflows.WaitExtended{StepID: x.StepID, By: x.By, Until: time.Date(2026, 3, 15, 16, 0, 0, 0, time.UTC)}}, nil
}

func (w *waitTemporal) updates() []client.UpdateWorkflowOptions {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]client.UpdateWorkflowOptions(nil), w.sent...)
}

const extendChannel = "C0INC42"

// newWaitTemporal is INC-2026-0042 with two runs: one already past its
// hold step, one waiting on it.
func newWaitTemporal() *waitTemporal {
	return &waitTemporal{
		incident: workflows.IncidentState{Key: "INC-2026-0042", Channel: extendChannel, Runs: []workflows.RunRef{
			{ID: "run-waiting", Playbook: "web-attack-block"},
			{ID: "run-other", Playbook: "web-attack-block"},
		}},
		runs: map[string]workflows.RunStatus{
			"run-waiting": {Steps: []workflows.StepState{{ID: "hold", Status: workflows.StepWaiting, Extendable: true}}},
			"run-other":   {Steps: []workflows.StepState{{ID: "hold", Status: workflows.StepSucceeded}}},
		},
	}
}

func extendBot(t *testing.T, tc *waitTemporal, access config.Access) *Bot {
	t.Helper()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	api := goslack.New(slackfake.DefaultBotToken, goslack.OptionAPIURL(fake.URL()))
	bot, err := NewBot(Options{
		API: api, Temporal: tc, Groups: &Groups{API: api}, Access: access,
		Playbooks: func() ([]*playbooks.Playbook, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return bot
}

func extendCommand(user, text string) goslack.SlashCommand {
	return goslack.SlashCommand{Command: "/incident", Text: text, UserID: user, ChannelID: extendChannel, ChannelName: "inc-2026-0042-web-attack", TriggerID: "trig-ext"}
}

func TestExtendFromSlack(t *testing.T) {
	tc := newWaitTemporal()
	bot := extendBot(t, tc, config.Access{Responders: []string{"U0RESP"}})
	out := bot.HandleCommand(context.Background(), extendCommand("U0RESP", "extend hold 1d still attacking &lt;!channel&gt;"))
	want := ":hourglass: <@U0RESP> extended `hold` by 24h, until <!date^1773590400^{date_short_pretty} {time}|2026-03-15 16:00 UTC>. Reason: still attacking &lt;!channel&gt;"
	if out.ResponseType != goslack.ResponseTypeInChannel || out.Text != want {
		t.Fatalf("answer %+v\nwant %q", out, want)
	}
	sent := tc.updates()
	if len(sent) != 1 {
		t.Fatalf("%d updates sent, want 1", len(sent))
	}
	u := sent[0]
	x := u.Args[0].(workflows.WaitExtension)
	if u.WorkflowID != "run-waiting" || u.UpdateName != workflows.UpdateExtendWait || u.UpdateID != "extend-hold-trig-ext" {
		t.Fatalf("update %+v", u)
	}
	if x.StepID != "hold" || x.By != "24h" || x.Actor != "U0RESP" || x.Origin != policy.OriginSlack ||
		x.Channel != extendChannel || x.Reason != "still attacking <!channel>" || len(x.Holds) != 1 || x.Holds[0] != policy.Responders {
		t.Fatalf("extension sent %+v", x)
	}
}

func TestExtendFromSlackRefusals(t *testing.T) {
	t.Run("the run's validator", func(t *testing.T) {
		tc := newWaitTemporal()
		tc.refuse = "extending step hold by 72h would end it at 2026-03-18T16:00:00Z, past its limit of 72h from the start (wait.max): the latest allowed end is 2026-03-17T16:00:00Z (at most 48h more) <@U0EVIL>"
		bot := extendBot(t, tc, config.Access{})
		out := bot.HandleCommand(context.Background(), extendCommand("U0RESP", "extend hold 3d"))
		if out.ResponseType != goslack.ResponseTypeEphemeral || !strings.HasPrefix(out.Text, "`hold` was not extended: extending step hold by 72h would end it at") ||
			!strings.Contains(out.Text, "the latest allowed end is 2026-03-17T16:00:00Z") || strings.Contains(out.Text, "<@U0EVIL>") {
			t.Fatalf("answer %+v", out)
		}
	})
	t.Run("not a responder", func(t *testing.T) {
		tc := newWaitTemporal()
		bot := extendBot(t, tc, config.Access{Responders: []string{"U0RESP"}})
		out := bot.HandleCommand(context.Background(), extendCommand("U0STRANGER", "extend hold 1h"))
		if out.ResponseType != goslack.ResponseTypeEphemeral || !strings.HasPrefix(out.Text, "You are not allowed to extend waits here.") {
			t.Fatalf("answer %+v", out)
		}
		if n := len(tc.updates()); n != 0 {
			t.Fatalf("a refused request sent %d updates", n)
		}
	})
	t.Run("no such step", func(t *testing.T) {
		tc := newWaitTemporal()
		bot := extendBot(t, tc, config.Access{})
		out := bot.HandleCommand(context.Background(), extendCommand("U0RESP", "extend unblock 1h"))
		if out.ResponseType != goslack.ResponseTypeEphemeral || !strings.HasPrefix(out.Text, "No running playbook in INC-2026-0042 has a step `unblock`") {
			t.Fatalf("answer %+v", out)
		}
		if n := len(tc.updates()); n != 0 {
			t.Fatalf("sent %d updates for a step no run has", n)
		}
	})
	t.Run("step not waiting", func(t *testing.T) {
		// No run waits on it: the run that has it says why not.
		tc := newWaitTemporal()
		tc.incident.Runs = tc.incident.Runs[1:]
		tc.refuse = "step hold is not waiting (it is succeeded); only a wait in progress can be extended"
		bot := extendBot(t, tc, config.Access{})
		out := bot.HandleCommand(context.Background(), extendCommand("U0RESP", "extend hold 1h"))
		if out.Text != "`hold` was not extended: "+tc.refuse {
			t.Fatalf("answer %+v", out)
		}
		if sent := tc.updates(); len(sent) != 1 || sent[0].WorkflowID != "run-other" {
			t.Fatalf("updates %+v", sent)
		}
	})
	t.Run("usage", func(t *testing.T) {
		tc := newWaitTemporal()
		bot := extendBot(t, tc, config.Access{})
		out := bot.HandleCommand(context.Background(), extendCommand("U0RESP", "extend hold soon"))
		if out.ResponseType != goslack.ResponseTypeEphemeral || !strings.Contains(out.Text, "`soon` is not a duration") {
			t.Fatalf("answer %+v", out)
		}
		if n := len(tc.updates()); n != 0 {
			t.Fatalf("a usage error sent %d updates", n)
		}
	})
}

// TestRunStatusShowsExtendableWait: the status message says when a wait
// ends, and how far and how it can be extended.
func TestRunStatusShowsExtendableWait(t *testing.T) {
	start := time.Date(2026, 3, 14, 16, 0, 0, 0, time.UTC)
	line := stepLine(workflows.StepState{ID: "hold", Status: workflows.StepWaiting, StartedAt: start,
		Until: start.Add(24 * time.Hour), Extendable: true, Latest: start.Add(72 * time.Hour)}, start.Add(time.Hour))
	want := ":hourglass_flowing_sand: `hold` waiting · 1h00m: until 2026-03-15T16:00:00Z, extendable to 2026-03-17T16:00:00Z: /incident extend hold &lt;duration&gt;"
	if line != want {
		t.Fatalf("step line\n got %q\nwant %q", line, want)
	}
}
