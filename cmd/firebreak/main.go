// Command firebreak is the single Firebreak binary: the embedded dev
// stack, the worker, the HTTP side, and the operator CLI. It is the only
// place that exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-ir/firebreak/integrations/config"
)

// Exit codes: 1 for runtime failures, 2 for bad configuration or usage,
// so scripts can tell "fix your input" from "something broke".
const (
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// usageError marks errors the user fixes by changing flags or config.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRootCommand(getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Cobra adds `completion` when it executes, writing to the output set
	// by then; add it now so it gets the same unknown-subcommand check as
	// the rest.
	root.InitDefaultCompletionCmd()
	refuseUnknownSubcommands(root)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var d detached
	if errors.As(err, &d) {
		fmt.Fprintf(stderr, "\nfirebreak: %v\n", err)
		return exitDetached
	}
	var ue usageError
	if errors.As(err, &ue) || config.IsConfigError(err) || isCobraUsage(err) {
		fmt.Fprintf(stderr, "firebreak: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "firebreak: %v\n", err)
	return exitFailure
}

// isCobraUsage recognises cobra's own argument and flag errors, which it
// returns as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "required flag"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}

// globals are the flags every command shares.
type globals struct {
	getenv     func(string) string
	configPath string
	logLevel   string
	logFormat  string
}

func newRootCommand(getenv func(string) string) *cobra.Command {
	g := &globals{getenv: getenv}
	root := &cobra.Command{
		Use:           "firebreak",
		Short:         "Incident-response runbooks that run themselves, steered from Slack",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "path to firebreak.yaml (env FIREBREAK_CONFIG)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (env FIREBREAK_LOG_LEVEL; default info)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "", "auto, text or json (env FIREBREAK_LOG_FORMAT; auto = text on a terminal)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newDevCommand(g),
		newWorkerCommand(g),
		newServeCommand(g),
		newPingCommand(g),
		newPlaybookCommand(g),
		newIncidentCommand(g),
		newVersionCommand(),
		newActionsCommand(),
	)
	return root
}

// refuseUnknownSubcommands makes every command group below the root fail
// on an unknown subcommand the way cobra fails at the top level (exit 2,
// "did you mean"). Cobra checks only the root: a group without a Run of
// its own otherwise prints its help and exits 0, so `playbook aprove`
// would look like success to a script.
func refuseUnknownSubcommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		refuseUnknownSubcommands(c)
		if !c.HasSubCommands() || c.Runnable() {
			continue
		}
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return usageError{fmt.Errorf("unknown command %q for %q%s", args[0], cmd.CommandPath(), didYouMean(cmd, args[0]))}
		}
	}
}

// didYouMean is cobra's suggestion text for an unknown subcommand of cmd.
func didYouMean(cmd *cobra.Command, arg string) string {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default at the top level
	}
	s := cmd.SuggestionsFor(arg)
	if len(s) == 0 {
		return ""
	}
	return "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
}

// load reads configuration for mode, with command-line flags taking
// precedence over the environment and the file.
func (g *globals) load(mode config.Mode, flags ...config.Override) (*config.Config, error) {
	path := g.configPath
	if path == "" {
		path = g.getenv("FIREBREAK_CONFIG")
	}
	if g.logLevel != "" {
		flags = append(flags, config.Override{Env: "FIREBREAK_LOG_LEVEL", Flag: "--log-level", Value: g.logLevel})
	}
	if g.logFormat != "" {
		flags = append(flags, config.Override{Env: "FIREBREAK_LOG_FORMAT", Flag: "--log-format", Value: g.logFormat})
	}
	cfg, err := config.Load(path, g.getenv, mode, flags...)
	if err != nil {
		if config.IsConfigError(err) {
			return nil, fmt.Errorf("invalid configuration:\n%w", err)
		}
		return nil, usageError{err}
	}
	return cfg, nil
}

// newLogger builds the process logger: text for people at a terminal,
// JSON for log collectors.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationsAsText}
	format := cfg.Format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// durationsAsText renders durations as "392ms" rather than JSON's default
// of nanoseconds, which people misread and collectors gain nothing from.
func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

func withTimeout(cmd *cobra.Command, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), d)
}
