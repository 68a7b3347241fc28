package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/integrations/config"
	fslack "github.com/firebreak-ir/firebreak/integrations/slack"
	ftemporal "github.com/firebreak-ir/firebreak/integrations/temporal"
	"github.com/firebreak-ir/firebreak/integrations/temporal/devserver"
	"github.com/firebreak-ir/firebreak/playbooks"
	"github.com/firebreak-ir/firebreak/workflows"
)

// stack is the set of parts one process runs. Parts start in order and
// stop in reverse: HTTP, then the worker, then the client, then the
// embedded server, so nothing is cut off mid-request.
type stack struct {
	cfg     *config.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *ftemporal.Metrics

	dev      *devserver.Server
	client   client.Client
	worker   worker.Worker
	httpLn   net.Listener
	httpSrv  *http.Server
	identity string

	// Slack, when a bot token is configured.
	slackAPI    *goslack.Client
	groups      *fslack.Groups
	bot         *fslack.Bot
	slackHealth *fslack.Health // what /readyz reports about Slack
}

func newStack(cfg *config.Config, log *slog.Logger) (*stack, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := ftemporal.NewMetrics(reg, log)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return &stack{cfg: cfg, log: log, reg: reg, metrics: m, identity: fmt.Sprintf("%d@%s", os.Getpid(), host)}, nil
}

// listenHTTP binds the HTTP address first, so a taken port fails the
// command before any other part has started.
func (s *stack) listenHTTP(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("http address %s is already in use or cannot be bound: %w", addr, err)
	}
	s.httpLn = ln
	return nil
}

func (s *stack) startDevServer() error {
	if s.cfg.Temporal.Address != "" {
		s.log.Info("using external temporal", "address", s.cfg.Temporal.Address)
		return nil
	}
	dataDir, err := filepath.Abs(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", s.cfg.DataDir, err)
	}
	start := time.Now()
	srv, err := devserver.Start(devserver.Options{
		DataDir:          dataDir,
		Port:             s.cfg.Temporal.DevPort,
		Namespace:        s.cfg.Temporal.Namespace,
		SearchAttributes: workflows.SearchAttributes(),
		Logger:           s.log,
	})
	if err != nil {
		return err
	}
	s.dev = srv
	s.cfg.Temporal.Address = srv.HostPort()
	s.log.Info("embedded temporal started", "address", srv.HostPort(), "data_dir", dataDir, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (s *stack) dial(ctx context.Context) error {
	opts, err := ftemporal.Options(s.cfg.Temporal, s.log, s.metrics.Handler)
	if err != nil {
		return usageError{err}
	}
	opts.Identity = s.identity
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := ftemporal.Dial(ctx, opts)
	if err != nil {
		return err
	}
	s.client = c
	return nil
}

// connectSlack builds the Web API client when a bot token is set and asks
// Slack whether it accepts the token. A token Slack rejects stops the
// command like bad configuration (exit 2); an unreachable Slack does not:
// the process runs, /readyz says why Slack is not ready, and auth.test is
// retried in the background.
func (s *stack) connectSlack(ctx context.Context) error {
	if !s.cfg.Slack.BotToken.IsSet() {
		return nil
	}
	// Honour HTTP 429 Retry-After inside the client; activities that still
	// hit a limit retry later through Temporal with Slack's delay.
	opts := []goslack.Option{goslack.OptionAPIURL(s.cfg.Slack.APIURL), goslack.OptionRetry(2)}
	if s.cfg.Slack.AppToken.IsSet() {
		opts = append(opts, goslack.OptionAppLevelToken(s.cfg.Slack.AppToken.Reveal()))
	}
	s.slackAPI = goslack.New(s.cfg.Slack.BotToken.Reveal(), opts...)
	s.groups = &fslack.Groups{API: s.slackAPI, Static: s.cfg.Access.Groups}
	s.slackHealth = fslack.NewHealth()
	if err := s.slackHealth.Authenticate(ctx, s.slackAPI, s.log.With("component", "slack")); err != nil {
		return usageError{err}
	}
	return nil
}

func (s *stack) startWorker() error {
	reg, err := actionRegistry()
	if err != nil {
		return err
	}
	w := worker.New(s.client, s.cfg.Temporal.TaskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.PingWorkflow)
	w.RegisterWorkflow(workflows.PlaybookWorkflow)
	w.RegisterWorkflow(workflows.IncidentWorkflow)
	w.RegisterWorkflow(workflows.IncidentRegistryWorkflow)
	w.RegisterActivity(&activities.Ping{WorkerID: s.identity})
	w.RegisterActivity(&activities.Runs{Temporal: s.client})
	var groups activities.GroupResolver = activities.StaticGroups(s.cfg.Access.Groups)
	if s.slackAPI != nil {
		groups = s.groups
		w.RegisterActivity(&activities.Slack{API: s.slackAPI, Render: fslack.Renderer{}})
		(&fslack.Notifier{API: s.slackAPI, Groups: s.groups}).Register(w)
	}
	// The worker's access.cli is what approval gates enforce, whatever a
	// client's own configuration says.
	w.RegisterActivity(&activities.Steps{Registry: reg, Groups: groups, CLI: activities.CLIPolicy{
		Approvals: s.cfg.Access.CLI.Approvals, Keys: s.cfg.Access.CLI.PublicKeys(),
	}})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %s: %w", s.cfg.Temporal.TaskQueue, err)
	}
	s.worker = w
	s.log.Info("worker polling", "task_queue", s.cfg.Temporal.TaskQueue, "namespace", s.cfg.Temporal.Namespace)
	return nil
}

// startBot wires the Slack bot: HTTP endpoints when a signing secret is
// set, Socket Mode when an app token is.
func (s *stack) startBot(ctx context.Context, lib func() ([]*playbooks.Playbook, error)) error {
	if s.slackAPI == nil {
		return nil
	}
	bot, err := fslack.NewBot(fslack.Options{
		API: s.slackAPI, Temporal: s.client, Namespace: s.cfg.Temporal.Namespace, TaskQueue: s.cfg.Temporal.TaskQueue,
		Access: s.cfg.Access, Channels: s.cfg.Channels, Groups: s.groups, Playbooks: lib,
		Config: s.cfg.PlaybookView(), Log: s.log.With("component", "slack"), Health: s.slackHealth,
	})
	if err != nil {
		return err
	}
	s.bot = bot
	if !s.cfg.Slack.AppToken.IsSet() {
		return nil
	}
	// Only the bot connects: a worker with the same environment has no
	// socket for /readyz to wait on.
	s.slackHealth.ExpectSocketMode()
	go func() {
		if err := bot.RunSocketMode(ctx, s.slackAPI); err != nil {
			s.log.Error("slack socket mode stopped", "err", err)
		}
	}()
	// Wait for the first connection attempt, so an app-level token Slack
	// rejects stops the start like a rejected bot token; a slow or
	// unreachable Slack does not hold it (/readyz says "connecting").
	select {
	case <-s.slackHealth.SocketSettled():
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
	}
	if err := s.slackHealth.SocketErr(); err != nil {
		var te *fslack.TokenError
		if errors.As(err, &te) {
			return usageError{err}
		}
	}
	return nil
}

func (s *stack) serveHTTP() {
	// Slack sends small bodies (1 MiB at most) and wants an answer within
	// 3 seconds, and probes and metrics are quick: a client that trickles
	// its request, or never reads the answer, is cut off rather than
	// holding a connection and a goroutine.
	s.httpSrv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	s.log.Info("http listening", "addr", s.httpLn.Addr().String())
}

// stop shuts down whatever started, in reverse order, and reports the
// first error.
func (s *stack) stop() error {
	var errs []error
	running := s.httpSrv != nil || s.worker != nil || s.dev != nil
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTP.ShutdownTimeout)
		errs = append(errs, s.httpSrv.Shutdown(ctx))
		cancel()
	} else if s.httpLn != nil {
		errs = append(errs, s.httpLn.Close())
	}
	if s.bot != nil {
		s.bot.Wait()
	}
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.client != nil {
		s.client.Close()
	}
	if s.dev != nil {
		errs = append(errs, s.dev.Stop())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	errs = append(errs, s.metrics.Close(ctx))
	cancel()
	if running {
		s.log.Info("stopped")
	}
	return errors.Join(errs...)
}

// wait blocks until ctx ends (SIGINT/SIGTERM), then stops the stack.
func (s *stack) wait(ctx context.Context) error {
	<-ctx.Done()
	s.log.Info("shutting down")
	return s.stop()
}

// parts selects what runStack starts.
type parts struct {
	devServer bool // embedded Temporal unless temporal.address is set
	worker    bool
	http      bool
	// playbooks, when set, is the library the Slack bot runs from; the
	// bot serves on the HTTP side only with it.
	playbooks func() ([]*playbooks.Playbook, error)
}

// runStack starts the selected parts, blocks until SIGINT or SIGTERM,
// then stops them. A part that fails to start stops the ones before it.
func runStack(ctx context.Context, cfg *config.Config, log *slog.Logger, p parts) (err error) {
	ctx, stopSignals := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()
	s, err := newStack(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = s.stop()
		}
	}()
	if p.http {
		if err := s.listenHTTP(cfg.HTTP.Addr); err != nil {
			return err
		}
	}
	if p.devServer {
		if err := s.startDevServer(); err != nil {
			return err
		}
	}
	if err := s.dial(ctx); err != nil {
		return err
	}
	if err := s.connectSlack(ctx); err != nil {
		return err
	}
	if p.http && p.playbooks != nil {
		if err := s.startBot(ctx, p.playbooks); err != nil {
			return err
		}
	}
	if p.worker {
		if err := s.startWorker(); err != nil {
			return err
		}
	}
	if p.http {
		s.serveHTTP()
	}
	log.Info("firebreak ready")
	return s.wait(ctx)
}
