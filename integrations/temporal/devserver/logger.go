package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// slogLogger adapts slog to the server's tag-based logger interface.
type slogLogger struct {
	l *slog.Logger
	// quiet demotes everything to debug once shutdown has begun.
	quiet *atomic.Bool
}

func newLogger(l *slog.Logger) *slogLogger {
	return &slogLogger{l: l.With("component", "temporal"), quiet: &atomic.Bool{}}
}

func (s *slogLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if s.quiet.Load() {
		level = slog.LevelDebug
	}
	s.l.Log(context.Background(), level, msg, attrs(tags)...)
}

func attrs(tags []tag.Tag) []any {
	out := make([]any, 0, len(tags))
	for _, t := range tags {
		v := t.Value()
		if err, ok := v.(error); ok {
			v = err.Error()
		}
		out = append(out, slog.Any(t.Key(), v))
	}
	return out
}

func (s *slogLogger) Debug(msg string, tags ...tag.Tag) { s.log(slog.LevelDebug, msg, tags) }

// Info is demoted: the server is chatty at info, and Firebreak's operators
// care about its warnings.
func (s *slogLogger) Info(msg string, tags ...tag.Tag)   { s.log(slog.LevelDebug, msg, tags) }
func (s *slogLogger) Warn(msg string, tags ...tag.Tag)   { s.log(slog.LevelWarn, msg, tags) }
func (s *slogLogger) Error(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags) }
func (s *slogLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }
func (s *slogLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(msg)
}
func (s *slogLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(fmt.Sprintf("temporal server fatal: %s", msg))
}

// With lets the server prepend tags cheaply.
func (s *slogLogger) With(tags ...tag.Tag) log.Logger {
	return &slogLogger{l: s.l.With(attrs(tags)...), quiet: s.quiet}
}
