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
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-ir/firebreak/activities"
	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/config"
	fslack "github.com/firebreak-ir/firebreak/integrations/slack"
	ftemporal "github.com/firebreak-ir/firebreak/integrations/temporal"
	"github.com/firebreak-ir/firebreak/integrations/temporal/devdir"
	"github.com/firebreak-ir/firebreak/integrations/temporal/devserver"
	"github.com/firebreak-ir/firebreak/integrations/temporal/webui"
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

	lock     *devdir.Lock
	dev      *devserver.Server
	client   client.Client
	worker   worker.Worker
	httpLn   net.Listener
	httpSrv  *http.Server
	starting *startup
	uiLn     net.Listener
	uiSrv    *http.Server
	uiStart  *startup
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

// phase logs the start of a part and tells early HTTP requests about it.
func (s *stack) phase(name string, attrs ...any) {
	s.log.Info("starting "+name, attrs...)
	for _, st := range []*startup{s.starting, s.uiStart} {
		if st != nil {
			st.setPhase(name)
		}
	}
}

// lockDataDir takes the embedded server's data dir for this process, so
// a second dev on it is refused (naming this PID) before it binds a port
// or opens the database.
func (s *stack) lockDataDir() error {
	dir, err := filepath.Abs(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", s.cfg.DataDir, err)
	}
	l, err := devdir.Acquire(dir)
	if err != nil {
		return err
	}
	s.lock = l
	s.cfg.DataDir = dir
	return nil
}

// listenHTTP binds the HTTP address and serves it at once: until the
// stack is ready, /healthz says ok and everything else 503 "starting:
// <phase>", so probes get an answer instead of a hung connection. A taken
// port fails the command before any other part has started.
func (s *stack) listenHTTP(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("http address %s is already in use or cannot be bound: %w", addr, err)
	}
	s.httpLn = ln
	s.starting = newStartup()
	s.httpSrv = newHTTPServer(s.starting)
	go s.serve(s.httpSrv, ln, "http")
	return nil
}

// listenUI binds the Web UI's port early for the same reasons as HTTP.
func (s *stack) listenUI() error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.Temporal.UIPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("web ui address %s is already in use or cannot be bound (set --ui-port, or --headless for no UI): %w", addr, err)
	}
	s.uiLn = ln
	s.uiStart = newStartup()
	s.uiSrv = newHTTPServer(s.uiStart)
	go s.serve(s.uiSrv, ln, "web ui")
	return nil
}

func (s *stack) serve(srv *http.Server, ln net.Listener, name string) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error(name+" server stopped", "err", err)
	}
}

func (s *stack) startDevServer() error {
	srv, err := devserver.Start(devserver.Options{
		DataDir:          s.cfg.DataDir,
		Port:             s.cfg.Temporal.DevPort,
		Namespace:        s.cfg.Temporal.Namespace,
		SearchAttributes: workflows.SearchAttributes(),
		Logger:           s.log,
		Progress: func(step string) {
			switch step {
			case devserver.StepDatabase:
				s.phase(step, "file", filepath.Join(s.cfg.DataDir, devserver.DBFileName))
			case devserver.StepNamespace:
				s.phase(step, "namespace", s.cfg.Temporal.Namespace)
			default:
				s.phase(step, "data_dir", s.cfg.DataDir)
			}
		},
	})
	if err != nil {
		return err
	}
	s.dev = srv
	s.cfg.Temporal.Address = srv.HostPort()
	s.cfg.Temporal.AddressFrom = "embedded"
	// Clients on this machine read the address from here (see
	// config.resolveAddress), so `ping` works after `dev --temporal-port`.
	return s.lock.PublishAddress(srv.HostPort())
}

// startUI puts the Web UI behind its listener, now that the frontend it
// proxies to is up.
func (s *stack) startUI() error {
	s.phase("web ui", "addr", s.uiLn.Addr().String())
	h, err := webui.Handler(webui.Options{TemporalAddress: s.cfg.Temporal.Address, Namespace: s.cfg.Temporal.Namespace})
	if err != nil {
		return err
	}
	s.uiStart.ready(h)
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
		if from := s.cfg.Temporal.AddressFrom; from != "" && from != "embedded" {
			return fmt.Errorf("%w (address from %s)", err, from)
		}
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
	awsCfg := s.cfg.AWS
	var slackActs *activities.Slack
	if s.slackAPI != nil {
		slackActs = &activities.Slack{API: s.slackAPI, Render: fslack.Renderer{}}
	}
	reg, err := newActionRegistry(&activities.AWS{
		// Loaded on first use: a worker that never runs an AWS step needs no AWS credentials.
		Accounts: func(ctx context.Context) (*fbaws.Accounts, error) {
			return fbaws.New(ctx, awsCfg, fbaws.Options{})
		},
		WAFv2: awsCfg.WAFv2,
	}, slackActs)
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
		w.RegisterActivity(slackActs)
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

// serveHTTP hands the listener, served since listenHTTP, to the real
// routes.
func (s *stack) serveHTTP() { s.starting.ready(s.routes()) }

func newHTTPServer(h http.Handler) *http.Server {
	// Slack sends small bodies (1 MiB at most) and wants an answer within
	// 3 seconds, and probes and metrics are quick: a client that trickles
	// its request, or never reads the answer, is cut off rather than
	// holding a connection and a goroutine.
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// startup is the HTTP handler while the stack starts: /healthz answers
// ok (the process is up), anything else 503 with the phase in progress;
// once ready, every request goes to the real handler.
type startup struct {
	phase atomic.Value // string
	next  atomic.Pointer[http.Handler]
}

func newStartup() *startup {
	st := &startup{}
	st.phase.Store("binding")
	return st
}

func (st *startup) setPhase(name string) { st.phase.Store(name) }
func (st *startup) ready(h http.Handler) { st.next.Store(&h) }

func (st *startup) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if next := st.next.Load(); next != nil {
		(*next).ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/healthz" {
		fmt.Fprintln(w, "ok")
		return
	}
	w.Header().Set("Retry-After", "1")
	http.Error(w, "starting: "+st.phase.Load().(string), http.StatusServiceUnavailable)
}

// stop shuts down whatever started, in reverse order, and reports the
// first error.
func (s *stack) stop() error {
	var errs []error
	running := s.httpSrv != nil || s.worker != nil || s.dev != nil
	for _, srv := range []*http.Server{s.httpSrv, s.uiSrv} {
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTP.ShutdownTimeout)
			errs = append(errs, srv.Shutdown(ctx))
			cancel()
		}
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
	if s.lock != nil {
		errs = append(errs, s.lock.Release())
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
	started := time.Now()
	embed := p.devServer && cfg.Temporal.Address == ""
	if embed {
		if err := s.lockDataDir(); err != nil {
			return err
		}
	} else if p.devServer {
		log.Info("using an external temporal cluster, embedding none", "address", cfg.Temporal.Address, "from", cfg.Temporal.AddressFrom)
	}
	if p.http {
		if err := s.listenHTTP(cfg.HTTP.Addr); err != nil {
			return err
		}
	}
	if embed && !cfg.Temporal.Headless {
		if err := s.listenUI(); err != nil {
			return err
		}
	}
	if embed {
		if err := s.startDevServer(); err != nil {
			return err
		}
	}
	if s.uiLn != nil {
		if err := s.startUI(); err != nil {
			return err
		}
	}
	s.phase("temporal client", "address", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace)
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
		s.phase("worker", "task_queue", cfg.Temporal.TaskQueue)
		if err := s.startWorker(); err != nil {
			return err
		}
	}
	if p.http {
		s.phase("http", "addr", s.httpLn.Addr().String())
		s.serveHTTP()
	}
	log.Info("firebreak ready", s.readyAttrs(time.Since(started))...)
	return s.wait(ctx)
}

// readyAttrs are the addresses a person needs once the stack is up.
func (s *stack) readyAttrs(took time.Duration) []any {
	attrs := []any{"temporal", s.cfg.Temporal.Address, "namespace", s.cfg.Temporal.Namespace}
	if s.httpLn != nil {
		attrs = append(attrs, "http", "http://"+s.httpLn.Addr().String())
	}
	if s.uiLn != nil {
		attrs = append(attrs, "ui", "http://"+s.uiLn.Addr().String())
	}
	return append(attrs, "took", took.Round(time.Millisecond))
}
