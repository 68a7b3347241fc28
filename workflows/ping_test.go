package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-ir/firebreak/activities"
)

func TestPingWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Ping{WorkerID: "w1"})
	env.ExecuteWorkflow(PingWorkflow, PingInput{Message: "hi"})
	if !env.IsWorkflowCompleted() {
		t.Fatal("not completed")
	}
	var res PingResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Reply != "pong: hi" || res.WorkerID != "w1" || res.ActivityStartedAt.IsZero() {
		t.Fatalf("got %+v", res)
	}
}

func TestPingWorkflowRetriesThenFails(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Ping
	calls := 0
	env.OnActivity(a.Ping, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.PingInput) (activities.PingResult, error) {
		calls++
		return activities.PingResult{}, errors.New("worker on fire")
	})
	env.ExecuteWorkflow(PingWorkflow, PingInput{Message: "hi"})
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("want the activity's error")
	}
	if calls != 3 {
		t.Fatalf("activity called %d times, want 3 (retry policy)", calls)
	}
}
