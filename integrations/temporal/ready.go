package temporal

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// ErrNoWorker is in CheckReady's error when Temporal answers but no worker
// polls the task queue, so a client can tell that from Temporal being down.
var ErrNoWorker = errors.New("no worker")

// CheckReady reports nil when the cluster answers and at least one worker
// polls taskQueue for both workflow and activity tasks. It works the same
// whether the worker is in this process (dev) or elsewhere (serve).
func CheckReady(ctx context.Context, c client.Client, namespace, taskQueue string) error {
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal unreachable: %w", err)
	}
	for _, tqType := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace:     namespace,
			TaskQueue:     &taskqueuepb.TaskQueue{Name: taskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			TaskQueueType: tqType,
		})
		if err != nil {
			return fmt.Errorf("describe task queue %s: %w", taskQueue, err)
		}
		if len(resp.GetPollers()) == 0 {
			return fmt.Errorf("%w polls task queue %s for %s tasks", ErrNoWorker, taskQueue, tqType)
		}
	}
	return nil
}
