package main

import (
	"github.com/spf13/cobra"

	"github.com/firebreak-ir/firebreak/integrations/config"
)

func newWorkerCommand(g *globals) *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker against TEMPORAL_ADDRESS (scale out: run as many as you like)",
		Long: `worker polls the Firebreak task queue on an external Temporal cluster or
Temporal Cloud and runs playbooks. Configure the connection with
TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY
(mTLS) or TEMPORAL_API_KEY. With --http it also serves /healthz, /readyz
and /metrics for probes and scraping.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var flags []config.Override
			if httpAddr != "" {
				flags = append(flags, config.Override{Env: "FIREBREAK_HTTP_ADDR", Flag: "--http", Value: httpAddr})
			}
			cfg, err := g.load(config.ModeWorker, flags...)
			if err != nil {
				return err
			}
			return runStack(cmd.Context(), cfg, newLogger(cfg.Log, cmd.ErrOrStderr()), parts{worker: true, http: httpAddr != ""})
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve /healthz, /readyz and /metrics on this address (off when empty)")
	return cmd
}

func newServeCommand(g *globals) *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP side alone (Slack endpoints, probes, metrics) against TEMPORAL_ADDRESS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var flags []config.Override
			if cmd.Flags().Changed("http") {
				flags = append(flags, config.Override{Env: "FIREBREAK_HTTP_ADDR", Flag: "--http", Value: httpAddr})
			}
			cfg, err := g.load(config.ModeServe, flags...)
			if err != nil {
				return err
			}
			return runStack(cmd.Context(), cfg, newLogger(cfg.Log, cmd.ErrOrStderr()), parts{http: true, playbooks: g.libraryLoader()})
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "HTTP listen address (env FIREBREAK_HTTP_ADDR)")
	return cmd
}
