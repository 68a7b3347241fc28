package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/test/harness"
)

// benchPeer runs the same client program (this process's worker and the
// hand-written ten-step workflow) against firebreak dev's embedded server
// and against the Temporal CLI's dev server, alternating, and reports the
// ratio of their medians: the servers are the only difference.
func benchPeer(runs int, temporalBin string) error {
	ctx := context.Background()
	if temporalBin == "" {
		temporalBin = filepath.Join(goBin(), "temporal")
	}
	if _, err := os.Stat(temporalBin); err != nil {
		return fmt.Errorf("temporal CLI not found (%w); install it with: go install github.com/temporalio/cli/cmd/temporal@v1.5.1", err)
	}
	tmp, bin, err := build(ctx)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	d, _, err := startReady(ctx, bin, filepath.Join(tmp, "data"))
	if err != nil {
		return err
	}
	defer func() { _ = d.Stop(30 * time.Second) }()

	// The peer stores its state in a SQLite file too, as firebreak does.
	port, err := harness.FreePort()
	if err != nil {
		return err
	}
	uiPort, err := harness.FreePort()
	if err != nil {
		return err
	}
	peerAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	peer := exec.Command(temporalBin, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(port), "--ui-port", strconv.Itoa(uiPort),
		"--db-filename", filepath.Join(tmp, "peer.db"), "--log-level", "error")
	peer.Stdout, peer.Stderr = os.Stderr, os.Stderr
	if err := peer.Start(); err != nil {
		return fmt.Errorf("start temporal dev server: %w", err)
	}
	defer func() { _ = peer.Process.Kill(); _ = peer.Wait() }()

	fire, err := benchClient(ctx, d.TemporalAddr)
	if err != nil {
		return fmt.Errorf("firebreak dev: %w", err)
	}
	defer fire.Close()
	other, err := benchClient(ctx, peerAddr)
	if err != nil {
		return fmt.Errorf("temporal server start-dev: %w", err)
	}
	defer other.Close()

	var stopWorkers []func()
	defer func() {
		for _, stop := range stopWorkers {
			stop()
		}
	}()
	for _, c := range []client.Client{fire, other} {
		w := worker.New(c, benchQueue, worker.Options{})
		w.RegisterWorkflow(tenNoops)
		reg, err := activities.NewRegistry(activities.CoreActions()...)
		if err != nil {
			return err
		}
		w.RegisterActivity(&activities.Steps{Registry: reg})
		if err := w.Start(); err != nil {
			return err
		}
		stopWorkers = append(stopWorkers, w.Stop)
	}

	timeOne := func(c client.Client) (time.Duration, error) {
		t0 := time.Now()
		r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: benchQueue}, tenNoops)
		if err != nil {
			return 0, err
		}
		if err := r.Get(ctx, nil); err != nil {
			return 0, err
		}
		return time.Since(t0), nil
	}
	var ours, theirs []time.Duration
	for i := range runs + 10 {
		a, err := timeOne(fire)
		if err != nil {
			return err
		}
		b, err := timeOne(other)
		if err != nil {
			return err
		}
		if i >= 10 { // warm-up
			ours, theirs = append(ours, a), append(theirs, b)
		}
	}
	mo, mt := pct(ours, 50), pct(theirs, 50)
	fmt.Printf("| 10-step workflow, same client and worker, median of %d (p95) | firebreak dev %s (%s), %s a step | temporal server start-dev (CLI v1.5.1) %s (%s), %s a step | firebreak is %.1f× faster |\n",
		runs, ms(mo), ms(pct(ours, 95)), ms(mo/10), ms(mt), ms(pct(theirs, 95)), ms(mt/10), float64(mt)/float64(mo))
	return nil
}

// benchClient dials addr until the server answers, for up to a minute.
func benchClient(ctx context.Context, addr string) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for {
		c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: quiet})
		if err == nil {
			if _, err = c.CheckHealth(ctx, &client.CheckHealthRequest{}); err == nil {
				return c, nil
			}
			c.Close()
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("%s did not answer within a minute", addr), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// goBin is where go install puts binaries.
func goBin() string {
	if b := os.Getenv("GOBIN"); b != "" {
		return b
	}
	if p := os.Getenv("GOPATH"); p != "" {
		return filepath.Join(p, "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "bin")
}
