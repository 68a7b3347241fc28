// Package activities holds every side effect Firebreak performs: the
// action registry and its actions, one file per domain. Activities are
// methods on structs that hold their clients.
package activities

import (
	"context"
	"time"
)

// Ping answers PingWorkflow.
type Ping struct {
	// WorkerID names this worker process (host:pid).
	WorkerID string
}

// PingInput is the input of Ping.Ping.
type PingInput struct {
	Message string `json:"message"`
}

// PingResult names the worker that ran the activity, so a caller can tell
// which of several scaled-out workers answered.
type PingResult struct {
	Reply    string `json:"reply"`
	WorkerID string `json:"worker_id"`
	// StartedAt is when the activity began running, for latency benchmarks.
	StartedAt time.Time `json:"started_at"`
}

// Ping echoes the message back.
func (p *Ping) Ping(_ context.Context, in PingInput) (PingResult, error) {
	return PingResult{Reply: "pong: " + in.Message, WorkerID: p.WorkerID, StartedAt: time.Now()}, nil
}
