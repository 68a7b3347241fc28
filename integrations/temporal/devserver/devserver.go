// Package devserver embeds a single-process Temporal server backed by a
// SQLite file, for `firebreak dev` and for tests. It is the only package
// besides cmd that imports go.temporal.io/server, which is slow to build.
package devserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/primitives/timestamp"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// DBFileName is the SQLite file inside the data directory.
const DBFileName = "temporal.db"

// QueueReadsPerSecond caps how often the embedded history service reads
// each of its task queues (Temporal's default is 20).
const QueueReadsPerSecond = 1000

// Options configure the embedded server.
type Options struct {
	// DataDir holds the SQLite database; created if missing.
	DataDir string
	// Host and Port of the frontend gRPC listener; Port 0 picks a free one.
	Host string
	Port int
	// Namespace is registered on first start.
	Namespace string
	// Retention of closed workflows in Namespace (default 30 days, so a
	// post-mortem can still read an incident resolved weeks ago).
	Retention time.Duration
	// SearchAttributes are custom search attributes registered with Namespace.
	SearchAttributes map[string]enumspb.IndexedValueType
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Progress, when set, hears each step as it begins: StepDatabase (first
	// start only), StepNamespace, StepServices. A cold start on a slow disk
	// takes a while, and people want to see which step it is in.
	Progress func(step string)
}

// Steps of Start, reported to Options.Progress.
const (
	StepDatabase  = "temporal database"
	StepNamespace = "temporal namespace"
	StepServices  = "temporal server"
)

// Server is a running embedded Temporal server.
type Server struct {
	srv      temporal.Server
	hostPort string
	log      *slogLogger
}

// ErrPortInUse is returned (wrapped) when the frontend port is taken.
var ErrPortInUse = errors.New("address already in use")

// Start creates the database on first use, registers the namespace and
// starts all Temporal services in this process. It returns once the
// frontend accepts connections.
func Start(opts Options) (*Server, error) {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Retention == 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if opts.Port == 0 {
		p, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		opts.Port = p[0]
	}
	frontend := net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
	if err := CheckPortFree(frontend); err != nil {
		return nil, fmt.Errorf("temporal frontend %s: %w", frontend, err)
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	dbPath := filepath.Join(opts.DataDir, DBFileName)
	sqlCfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: dbPath,
		ConnectAttributes: map[string]string{
			"mode": "rwc",
			// WAL with synchronous=NORMAL survives a killed process (only an
			// OS crash or power cut can lose the last commits) and saves an
			// fsync per write. The plugin turns unknown keys into pragmas.
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		progress(StepDatabase)
		if err := sqlite.SetupSchema(sqlCfg); err != nil {
			return nil, fmt.Errorf("create temporal schema in %s: %w", dbPath, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("stat %s: %w", dbPath, err)
	}
	progress(StepNamespace)
	ns, err := sqlite.NewNamespaceConfig("active", opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", opts.Namespace, err)
	}
	ns.Detail.Config.Retention = timestamp.DurationPtr(opts.Retention)
	if err := sqlite.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("register namespace %s: %w", opts.Namespace, err)
	}

	// history, matching, worker and the frontend's HTTP API; nobody
	// outside this process dials them.
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	svc := func(grpcPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, BindOnIP: "127.0.0.1"}}
	}
	frontendSvc := svc(opts.Port)
	frontendSvc.RPC.BindOnIP = opts.Host
	frontendSvc.RPC.HTTPPort = ports[3]
	local := func(port int) static.Hosts {
		return static.SingleLocalHost(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	cfg := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: "127.0.0.1"},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {
					Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend,
					HTTPAddress: net.JoinHostPort(opts.Host, strconv.Itoa(ports[3])),
				},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": frontendSvc,
			"history":  svc(ports[0]),
			"matching": svc(ports[1]),
			"worker":   svc(ports[2]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: frontend},
	}
	dyn := dynamicconfig.StaticClient{
		// Search attributes registered at runtime are visible at once.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
		// One partition per task queue: with the default four, a task written
		// to a partition without a poller waits to be forwarded, which adds
		// tens of milliseconds to every step on a single node.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  []dynamicconfig.ConstrainedValue{{Value: 1}},
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): []dynamicconfig.ConstrainedValue{{Value: 1}},
		// A laptop-sized mutable state cache keeps idle memory low.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): []dynamicconfig.ConstrainedValue{{Value: 8096}},
		// /readyz asks whether a worker polls; by default a worker that died
		// stays listed for 5 minutes. Idle pollers re-poll every 20 s, so a
		// 30 s history still lists every live one and drops a dead one soon.
		dynamicconfig.MatchingLongPollExpirationInterval.Key(): []dynamicconfig.ConstrainedValue{{Value: 20 * time.Second}},
		dynamicconfig.PollerHistoryTTL.Key():                   []dynamicconfig.ConstrainedValue{{Value: 30 * time.Second}},
	}
	// The history service reads each task queue (transfer: new workflow
	// and activity tasks; timer: timers, timeouts, retries; visibility:
	// list and search) no more than 20 times a second by default, a limit
	// sized for a cluster sharing its database among many hosts. On one
	// node every new task then waits up to 50 ms for the next read, which
	// was 85% of a playbook step's cost. The readers poll when notified,
	// not in a loop, so a higher cap costs nothing at idle.
	for _, key := range []dynamicconfig.Key{
		dynamicconfig.TransferProcessorMaxPollRPS.Key(),
		dynamicconfig.TimerProcessorMaxPollRPS.Key(),
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key(),
		dynamicconfig.OutboundProcessorMaxPollRPS.Key(),
	} {
		dyn[key] = []dynamicconfig.ConstrainedValue{{Value: QueueReadsPerSecond}}
	}
	progress(StepServices)
	logger := newLogger(opts.Logger)
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		// Static hosts instead of ringpop: one process needs no gossip, and
		// ringpop would try to rejoin the dead members a previous run left
		// in the database ("Not enough hosts to serve the request").
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: local(opts.Port),
			primitives.HistoryService:  local(ports[0]),
			primitives.MatchingService: local(ports[1]),
			primitives.WorkerService:   local(ports[2]),
		}),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dyn),
		// Firebreak serves its own /metrics; the server's would need another port.
		temporal.WithCustomMetricsHandler(metrics.NoopMetricsHandler),
	)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	return &Server{srv: srv, hostPort: frontend, log: logger}, nil
}

// HostPort is the frontend address clients dial.
func (s *Server) HostPort() string { return s.hostPort }

// Stop shuts down all services and closes the database.
func (s *Server) Stop() error {
	// Services stopping one by one complain that the others are gone;
	// that is expected and not worth an operator's attention.
	s.log.quiet.Store(true)
	if err := s.srv.Stop(); err != nil {
		return fmt.Errorf("stop temporal server: %w", err)
	}
	return nil
}

// CheckPortFree reports ErrPortInUse when addr cannot be bound, so the
// caller can refuse to start before anything else runs.
func CheckPortFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrPortInUse, err)
	}
	return l.Close()
}

// freePorts asks the kernel for n distinct unused loopback ports for the
// internal services, which nobody dials from outside the process.
func freePorts(n int) ([]int, error) {
	var (
		ports     []int
		listeners []net.Listener
	)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve internal port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
