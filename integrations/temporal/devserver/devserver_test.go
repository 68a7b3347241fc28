package devserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	ftemporal "github.com/firebreak-ir/firebreak/integrations/temporal"
)

func noop(workflow.Context) error { return nil }

// TestReadinessFollowsPollers checks /readyz's definition against a real
// server: not ready without a worker, ready once one polls. The server
// picks its own port and reports its start-up steps.
func TestReadinessFollowsPollers(t *testing.T) {
	var steps []string
	srv, err := Start(Options{DataDir: t.TempDir(), Port: 0, Logger: slog.New(slog.DiscardHandler),
		Progress: func(step string) { steps = append(steps, step) }})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{StepDatabase, StepNamespace, StepServices}; strings.Join(steps, ",") != strings.Join(want, ",") {
		t.Errorf("steps %q, want %q", steps, want)
	}
	if strings.HasSuffix(srv.HostPort(), ":0") {
		t.Errorf("HostPort %s: want the port it picked", srv.HostPort())
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	c, err := client.Dial(client.Options{HostPort: srv.HostPort()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	err = ftemporal.CheckReady(ctx, c, "default", "readiness")
	if err == nil || !strings.Contains(err.Error(), "no worker polls task queue readiness") {
		t.Fatalf("without a worker: %v", err)
	}
	w := worker.New(c, "readiness", worker.Options{})
	w.RegisterWorkflow(noop)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for {
		if err = ftemporal.CheckReady(ctx, c, "default", "readiness"); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("never ready with a worker polling: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestStartRefusesBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = Start(Options{DataDir: t.TempDir(), Port: port})
	if !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("want ErrPortInUse naming the port, got %v", err)
	}
}
