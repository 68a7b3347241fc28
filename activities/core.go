package activities

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// CoreActions are the built-in actions every playbook may use; they need
// no permissions.
func CoreActions() []Action {
	return []Action{coreLog(), coreNoop(), coreFail(), coreRecord()}
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
			// "nothing" read like a missing plan; say that no change is made.
			return Plan{Summary: "no change (core.noop does nothing)"}, nil
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

// RecordDirEnv names the worker's environment variable that enables
// core.record: the directory its files go in. Unset, core.record fails.
const RecordDirEnv = "FIREBREAK_RECORD_DIR"

// RecordInput is the input of core.record.
type RecordInput struct {
	// Name picks the file: <name>.log in the record directory.
	Name string `json:"name" action:"required"`
	// HoldUntil, when set, keeps the action running after it recorded
	// until a file of that name exists in the record directory: a test
	// can then crash the worker or abort the run mid-action.
	HoldUntil string `json:"hold_until,omitempty"`
}

func coreRecord() Action {
	var mu sync.Mutex // one check-then-append at a time within this worker
	return Def[RecordInput]{
		Name: "core.record",
		Description: "Append the step's idempotency key to <name>.log in the worker's $" + RecordDirEnv +
			", once per key (for drills and tests of exactly-once execution).",
		PlanFunc: func(_ context.Context, _ Request, in RecordInput) (Plan, error) {
			if err := in.check(); err != nil {
				return Plan{}, err
			}
			return Plan{Summary: "record this step's key in " + in.Name + ".log"}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in RecordInput) (Result, error) {
			if err := in.check(); err != nil {
				return Result{}, err
			}
			dir := os.Getenv(RecordDirEnv)
			if dir == "" {
				return Result{}, temporal.NewNonRetryableApplicationError(
					"core.record: this worker has no record directory; set "+RecordDirEnv+" in its environment", "NotConfigured", nil)
			}
			mu.Lock()
			recorded, err := appendOnce(filepath.Join(dir, in.Name+".log"), req.IdempotencyKey)
			mu.Unlock()
			if err != nil {
				return Result{}, fmt.Errorf("core.record: %w", err)
			}
			res := Result{Summary: "recorded in " + in.Name + ".log", Resource: in.Name + ".log",
				Outputs: map[string]any{"recorded": recorded, "key": req.IdempotencyKey}}
			if !recorded {
				res.Summary = "already recorded in " + in.Name + ".log"
			}
			if in.HoldUntil != "" {
				// The change is made: a cancellation cannot undo it, so it
				// ends the hold and the action reports success.
				if err := holdUntil(ctx, filepath.Join(dir, in.HoldUntil)); err != nil {
					return Result{}, fmt.Errorf("core.record: %w", err)
				}
			}
			return res, nil
		},
	}
}

func (in RecordInput) check() error {
	for i, n := range []string{in.Name, in.HoldUntil} {
		if (i == 0 || n != "") && !plainFileName(n) {
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("core.record: %q is not a plain file name (letters, digits, '.', '_', '-')", n), ErrBadInput, nil)
		}
	}
	return nil
}

// plainFileName keeps core.record's files inside the record directory:
// no separators, no leading dot (so no "..").
func plainFileName(n string) bool {
	if n == "" || len(n) > 100 || n[0] == '.' {
		return false
	}
	for _, c := range n {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// appendOnce appends key as a line to file unless a line already holds
// it, so a retry after a crash writes nothing new.
func appendOnce(file, key string) (bool, error) {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() == key {
			return false, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		return false, err
	}
	return true, f.Sync()
}

// holdUntil waits for file to exist, or for ctx to end.
func holdUntil(ctx context.Context, file string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := os.Stat(file)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func quoteShort(s string) string {
	const max = 80
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
