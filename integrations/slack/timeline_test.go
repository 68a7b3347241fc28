package slack

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/firebreak-ir/firebreak/integrations/config"
	"github.com/firebreak-ir/firebreak/workflows"
)

// timelineTemporal is an incident whose timeline query answers events.
type timelineTemporal struct {
	*waitTemporal
	events []workflows.Event
}

func (tt *timelineTemporal) QueryWorkflow(ctx context.Context, workflowID, runID, query string, args ...any) (converter.EncodedValue, error) {
	if query == workflows.QueryTimeline {
		return jsonValue{tt.events}, nil
	}
	return tt.waitTemporal.QueryWorkflow(ctx, workflowID, runID, query, args...)
}

// A long timeline keeps its newest events, which are what a responder asks for (a rollback that
// just ran), and counts the earlier ones it leaves out.
func TestTimelineKeepsTheNewestEvents(t *testing.T) {
	tt := &timelineTemporal{waitTemporal: newWaitTemporal()}
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for i := range 60 {
		tt.events = append(tt.events, workflows.Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: "step_succeeded", Step: fmt.Sprintf("step-%02d", i),
			Actor: workflows.SystemActor, Detail: strings.Repeat("long detail ", 20)})
	}
	bot := extendBot(t, tt.waitTemporal, config.Access{})
	bot.o.Temporal = tt
	out := bot.HandleCommand(context.Background(), extendCommand("U0RESP", "timeline"))
	if !strings.Contains(out.Text, "step-59") {
		t.Fatalf("the newest event is missing:\n%s", out.Text)
	}
	lines := strings.Split(out.Text, "\n")
	var earlier int
	if _, err := fmt.Sscanf(lines[0], "_…%d earlier events", &earlier); err != nil || earlier != 60-(len(lines)-1) {
		t.Fatalf("first line %q: want the count of the %d events left out", lines[0], 60-(len(lines)-1))
	}
	if len(out.Text) > maxText {
		t.Errorf("reply is %d characters, over %d", len(out.Text), maxText)
	}
}
