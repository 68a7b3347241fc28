package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/firebreak-ir/firebreak/integrations/config"
)

func newDevCommand(g *globals) *cobra.Command {
	var dataDir, httpAddr string
	var port, uiPort int
	var headless bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on this machine: embedded Temporal on SQLite, its Web UI, the worker and the HTTP server",
		Long: `dev runs a complete Firebreak on one machine. Temporal runs in-process
with its state in a SQLite file under --data-dir, so incidents survive a
restart, and its Web UI is served on --ui-port. One dev at a time may use
a data dir; client commands (ping, playbook, incident) find its Temporal
address there. With TEMPORAL_ADDRESS set, dev uses that cluster instead,
and --data-dir, --temporal-port and --ui-port are errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var flags []config.Override
			if cmd.Flags().Changed("data-dir") {
				flags = append(flags, config.Override{Env: "FIREBREAK_DATA_DIR", Flag: "--data-dir", Value: dataDir})
			}
			if cmd.Flags().Changed("http") {
				flags = append(flags, config.Override{Env: "FIREBREAK_HTTP_ADDR", Flag: "--http", Value: httpAddr})
			}
			if cmd.Flags().Changed("temporal-port") {
				flags = append(flags, config.Override{Env: "FIREBREAK_TEMPORAL_PORT", Flag: "--temporal-port", Value: strconv.Itoa(port)})
			}
			if cmd.Flags().Changed("ui-port") {
				flags = append(flags, config.Override{Env: "FIREBREAK_UI_PORT", Flag: "--ui-port", Value: strconv.Itoa(uiPort)})
			}
			if cmd.Flags().Changed("headless") {
				flags = append(flags, config.Override{Env: "FIREBREAK_HEADLESS", Flag: "--headless", Value: strconv.FormatBool(headless)})
			}
			cfg, err := g.load(config.ModeDev, flags...)
			if err != nil {
				return err
			}
			return runStack(cmd.Context(), cfg, newLogger(cfg.Log, cmd.ErrOrStderr()), parts{devServer: true, worker: true, http: true, playbooks: g.libraryLoader()})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", ".firebreak", "directory for the SQLite database (env FIREBREAK_DATA_DIR)")
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "HTTP listen address for Slack, probes and metrics (env FIREBREAK_HTTP_ADDR)")
	cmd.Flags().IntVar(&port, "temporal-port", 7233, "port of the embedded Temporal frontend on 127.0.0.1, 0 for any free port (env FIREBREAK_TEMPORAL_PORT)")
	cmd.Flags().IntVar(&uiPort, "ui-port", 8233, "port of the Temporal Web UI on 127.0.0.1, 0 for any free port (env FIREBREAK_UI_PORT)")
	cmd.Flags().BoolVar(&headless, "headless", false, "do not serve the Temporal Web UI (env FIREBREAK_HEADLESS)")
	return cmd
}
