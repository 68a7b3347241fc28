// Package workflows holds Firebreak's deterministic Temporal workflow
// code: the incident lifecycle, the playbook interpreter, approvals and
// the timeline. Side effects live in package activities.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-ir/firebreak/activities"
)

// PingInput is the input of PingWorkflow.
type PingInput struct {
	Message string `json:"message"`
}

// PingResult is what PingWorkflow returns.
type PingResult struct {
	Reply    string `json:"reply"`
	WorkerID string `json:"worker_id"`
	// ActivityStartedAt is when the first activity began running.
	ActivityStartedAt time.Time `json:"activity_started_at"`
}

// PingWorkflow proves the chain client → server → worker → activity end to
// end; `firebreak ping` and the readiness tests run it.
func PingWorkflow(ctx workflow.Context, in PingInput) (PingResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var a *activities.Ping
	var out activities.PingResult
	if err := workflow.ExecuteActivity(ctx, a.Ping, activities.PingInput{Message: in.Message}).Get(ctx, &out); err != nil {
		return PingResult{}, err
	}
	return PingResult{Reply: out.Reply, WorkerID: out.WorkerID, ActivityStartedAt: out.StartedAt}, nil
}
