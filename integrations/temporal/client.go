// Package temporal connects Firebreak to a Temporal cluster: client
// options (TLS, mTLS, API key for Temporal Cloud), SDK metrics exported
// to Prometheus, and readiness checks. The embedded dev server lives in
// the devserver subpackage so that this one builds fast.
package temporal

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
	sdklog "go.temporal.io/sdk/log"

	"github.com/firebreak-ir/firebreak/integrations/config"
)

// DefaultAddress is where a Temporal frontend listens unless told otherwise.
const DefaultAddress = "127.0.0.1:7233"

// Options builds SDK client options from configuration. metrics may be nil.
func Options(cfg config.Temporal, logger *slog.Logger, metrics client.MetricsHandler) (client.Options, error) {
	addr := cfg.Address
	if addr == "" {
		addr = DefaultAddress
	}
	opts := client.Options{
		HostPort:       addr,
		Namespace:      cfg.Namespace,
		Logger:         sdklog.NewStructuredLogger(logger.With("component", "temporal-sdk")),
		MetricsHandler: metrics,
	}
	if cfg.TLS.Enabled || cfg.APIKey.IsSet() {
		tlsCfg, err := tlsConfig(cfg.TLS)
		if err != nil {
			return client.Options{}, err
		}
		opts.ConnectionOptions.TLS = tlsCfg
	}
	if cfg.APIKey.IsSet() {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.APIKey.Reveal())
	}
	return opts, nil
}

func tlsConfig(cfg config.TemporalTLS) (*tls.Config, error) {
	out := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	if cfg.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load temporal client certificate %s: %w", cfg.CertFile, err)
		}
		out.Certificates = []tls.Certificate{pair}
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read temporal CA %s: %w", cfg.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal CA %s: no PEM certificates found", cfg.CAFile)
		}
		out.RootCAs = pool
	}
	return out, nil
}

// Dial connects and checks the namespace is reachable.
func Dial(ctx context.Context, opts client.Options) (client.Client, error) {
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s (namespace %s): %w", opts.HostPort, opts.Namespace, err)
	}
	return c, nil
}

// Metrics exports the Temporal SDK's metrics (workflow/activity latencies,
// poller counts, request failures) into a Prometheus registry.
type Metrics struct {
	Handler  client.MetricsHandler
	provider *sdkmetric.MeterProvider
}

// NewMetrics registers an OpenTelemetry→Prometheus bridge on reg.
func NewMetrics(reg prometheus.Registerer, logger *slog.Logger) (*Metrics, error) {
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	h := opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
		Meter: provider.Meter("temporal-sdk-go"),
		// The default panics; a metrics hiccup must not take down a worker.
		OnError: func(err error) { logger.Warn("temporal metrics", "err", err) },
	})
	return &Metrics{Handler: h, provider: provider}, nil
}

// Close flushes and stops the meter provider.
func (m *Metrics) Close(ctx context.Context) error {
	return m.provider.Shutdown(ctx)
}
