package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	fslack "github.com/firebreak-ir/firebreak/integrations/slack"
	ftemporal "github.com/firebreak-ir/firebreak/integrations/temporal"
)

// routes is the HTTP surface: probes, metrics and Slack's endpoints.
func (s *stack) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		err := ftemporal.CheckReady(ctx, s.client, s.cfg.Temporal.Namespace, s.cfg.Temporal.TaskQueue)
		if s.slackHealth != nil {
			// Slack's state is known without a call: auth.test at start,
			// the Socket Mode connection as it changes.
			err = errors.Join(err, s.slackHealth.Ready())
		}
		if err != nil {
			http.Error(w, "not ready: "+strings.ReplaceAll(err.Error(), "\n", "; "), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	if s.bot != nil && s.cfg.Slack.SigningSecret.IsSet() {
		s.bot.Register(mux, fslack.NewVerifier(s.cfg.Slack.SigningSecret))
	}
	return mux
}
