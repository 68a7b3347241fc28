package activities

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// CoreActions are the built-in actions every playbook may use; they need
// no permissions.
func CoreActions() []Action {
	return []Action{coreLog(), coreNoop(), coreFail()}
}

// LogInput is the input of core.log.
type LogInput struct {
	Message string `json:"message" action:"required"`
	Level   string `json:"level,omitempty"` // debug, info (default), warn, error
}

func coreLog() Action {
	return Def[LogInput]{
		Name:        "core.log",
		Description: "Write a message to the worker log and the run's timeline.",
		PlanFunc: func(_ context.Context, _ Request, in LogInput) (Plan, error) {
			return Plan{Summary: "log " + quoteShort(in.Message)}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in LogInput) (Result, error) {
			var level slog.Level
			if in.Level != "" {
				if err := level.UnmarshalText([]byte(in.Level)); err != nil {
					return Result{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("core.log: level %q: want debug, info, warn or error", in.Level), ErrBadInput, err)
				}
			}
			logger := activity.GetLogger(ctx)
			switch {
			case level >= slog.LevelError:
				logger.Error(in.Message, "step", req.StepID)
			case level >= slog.LevelWarn:
				logger.Warn(in.Message, "step", req.StepID)
			case level >= slog.LevelInfo:
				logger.Info(in.Message, "step", req.StepID)
			default:
				logger.Debug(in.Message, "step", req.StepID)
			}
			return Result{Summary: "logged " + quoteShort(in.Message), Outputs: map[string]any{"message": in.Message}}, nil
		},
	}
}

// NoopInput is the input of core.noop: nothing.
type NoopInput struct{}

func coreNoop() Action {
	return Def[NoopInput]{
		Name:        "core.noop",
		Description: "Do nothing; a placeholder step or a compensation that needs no undo.",
		PlanFunc: func(context.Context, Request, NoopInput) (Plan, error) {
			return Plan{Summary: "nothing"}, nil
		},
		ExecuteFunc: func(context.Context, Request, NoopInput) (Result, error) {
			return Result{Summary: "did nothing"}, nil
		},
	}
}

// FailInput is the input of core.fail.
type FailInput struct {
	Message string `json:"message,omitempty"`
	// SucceedOnAttempt, when > 0, makes the action succeed on that attempt,
	// to exercise retry policies.
	SucceedOnAttempt int `json:"succeed_on_attempt,omitempty"`
}

func coreFail() Action {
	return Def[FailInput]{
		Name:        "core.fail",
		Description: "Fail (for testing playbooks' failure handling and rollback).",
		PlanFunc: func(_ context.Context, _ Request, in FailInput) (Plan, error) {
			return Plan{Summary: "fail: " + quoteShort(in.Message)}, nil
		},
		ExecuteFunc: func(_ context.Context, req Request, in FailInput) (Result, error) {
			if in.SucceedOnAttempt > 0 && int(req.Attempt) >= in.SucceedOnAttempt {
				return Result{Summary: fmt.Sprintf("succeeded on attempt %d", req.Attempt), Outputs: map[string]any{"attempts": req.Attempt}}, nil
			}
			msg := in.Message
			if msg == "" {
				msg = "core.fail"
			}
			return Result{}, temporal.NewApplicationError(msg, "CoreFail")
		},
	}
}

func quoteShort(s string) string {
	const max = 80
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
