package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/integrations/config"
)

func TestLoggerPrintsDurationsAsText(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log := newLogger(config.Log{Level: "info", Format: format}, &buf)
			log.Info("done", "took", 392*time.Millisecond, slog.Group("g", slog.Duration("wait", 1500*time.Microsecond)))
			out := buf.String()
			want := map[string][]string{
				"json": {`"took":"392ms"`, `"wait":"1.5ms"`},
				"text": {`took=392ms`, `g.wait=1.5ms`},
			}[format]
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %s:\n%s", w, out)
				}
			}
			if strings.Contains(out, "392000000") {
				t.Errorf("duration printed in nanoseconds:\n%s", out)
			}
		})
	}
}
