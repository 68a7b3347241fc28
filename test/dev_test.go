package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/test/harness"
	"github.com/firebreak-ir/firebreak/workflows"
)

func startDev(t *testing.T, dataDir string, env ...string) *harness.Dev {
	t.Helper()
	d, err := harness.StartDev(bin, dataDir, env...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.Stop(10 * time.Second)
		// Built with GOFLAGS=-race, the binary reports races on its output.
		if strings.Contains(d.Output(), "WARNING: DATA RACE") {
			t.Errorf("data race in firebreak dev:\n%s", d.Output())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx, d.URL("/readyz")); err != nil {
		t.Fatal(err)
	}
	return d
}

func dial(t *testing.T, addr string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: "default"})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestDevSurvivesRestart is the foundation's promise: run a workflow,
// stop the process with SIGTERM, start it again on the same data dir, and
// the workflow's history is still there.
func TestDevSurvivesRestart(t *testing.T) {
	dataDir := t.TempDir()
	d := startDev(t, dataDir)

	if code, body := get(t, d.URL("/healthz")); code != http.StatusOK || !strings.Contains(body, "ok") {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	code, metrics := get(t, d.URL("/metrics"))
	if code != http.StatusOK || !strings.Contains(metrics, "go_goroutines") {
		t.Fatalf("/metrics: %d, missing Go runtime metrics", code)
	}

	c := dial(t, d.TemporalAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "e2e-ping", TaskQueue: "firebreak"},
		workflows.PingWorkflow, workflows.PingInput{Message: "before restart"})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.PingResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Reply != "pong: before restart" {
		t.Fatalf("reply: %q", res.Reply)
	}

	// The SDK's own metrics are exported once it has done some work; the
	// worker records a completion just after the server has it, so wait.
	waitFor(t, func() bool {
		_, metrics = get(t, d.URL("/metrics"))
		return strings.Contains(metrics, "temporal_workflow_completed")
	})

	if err := d.Stop(10 * time.Second); err != nil {
		t.Fatalf("stop after SIGTERM: %v\n%s", err, d.Output())
	}
	if d.ExitCode() != 0 {
		t.Fatalf("exit code %d after SIGTERM\n%s", d.ExitCode(), d.Output())
	}
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(d.Output(), want) {
			t.Errorf("log lacks %s", want)
		}
	}

	d2 := startDev(t, dataDir)
	c2 := dial(t, d2.TemporalAddr)
	desc, err := c2.DescribeWorkflowExecution(ctx, "e2e-ping", "")
	if err != nil {
		t.Fatalf("workflow lost across restart: %v\n%s", err, d2.Output())
	}
	if got := desc.GetWorkflowExecutionInfo().GetStatus().String(); got != "Completed" {
		t.Fatalf("status after restart: %s", got)
	}
	var again workflows.PingResult
	if err := c2.GetWorkflow(ctx, "e2e-ping", "").Get(ctx, &again); err != nil || again.Reply != res.Reply || !again.ActivityStartedAt.Equal(res.ActivityStartedAt) {
		t.Fatalf("result after restart: %+v, %v (want %+v)", again, err, res)
	}
	iter := c2.GetWorkflowHistory(ctx, "e2e-ping", "", false, 0)
	events := 0
	for iter.HasNext() {
		if _, err := iter.Next(); err != nil {
			t.Fatal(err)
		}
		events++
	}
	if events < 5 {
		t.Fatalf("history has %d events after restart, want the full run", events)
	}

	// And the restarted stack still runs new work.
	run2, err := c2.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "firebreak"},
		workflows.PingWorkflow, workflows.PingInput{Message: "after restart"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run2.Get(ctx, &res); err != nil || res.Reply != "pong: after restart" {
		t.Fatalf("after restart: %+v %v", res, err)
	}
}

func TestDevPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	free, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name          string
		http, tempo   int
		wantInMessage string
	}{
		{"http port", busyPort, free, "http address 127.0.0.1:" + itoa(busyPort) + " is already in use"},
		{"temporal port", free, busyPort, "temporal frontend 127.0.0.1:" + itoa(busyPort) + ": address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			d, err := harness.StartDevOn(bin, dataDir, tc.http, tc.tempo)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-d.Done():
			case <-time.After(60 * time.Second):
				_ = d.Stop(time.Second)
				t.Fatal("dev kept running with its port taken")
			}
			if d.ExitCode() != 1 {
				t.Errorf("exit code %d, want 1", d.ExitCode())
			}
			if !strings.Contains(d.Output(), tc.wantInMessage) {
				t.Errorf("output lacks %q:\n%s", tc.wantInMessage, d.Output())
			}
			if tc.name == "http port" {
				// Refused before anything started: no database was created.
				if _, err := os.Stat(filepath.Join(dataDir, "temporal.db")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("temporal.db exists after refusing to start (err=%v)", err)
				}
			}
		})
	}
}

// TestBadConfigExitsTwo checks that a bad firebreak.yaml stops the binary
// before it starts anything, with file:line and the key.
func TestBadConfigExitsTwo(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        []string
		want       string
	}{
		{"unknown key", "http:\n  adress: 127.0.0.1:1\n", nil, "firebreak.yaml:2:3: http.adress: unknown key"},
		{"bad duration", "http:\n  shutdown_timeout: 5 minutes\n", nil, "firebreak.yaml:2:21: http.shutdown_timeout: invalid duration"},
		{"missing secret for mode", "slack:\n  api_url: https://slack.com/api/\n", []string{"SLACK_BOT_TOKEN=xoxb-test"},
			"firebreak.yaml:1:1: slack.signing_secret: is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "firebreak.yaml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "dev", "--config", path, "--data-dir", filepath.Join(dir, "data"), "--http", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("want exit 2, got %v\n%s", err, out)
			}
			if !strings.Contains(string(out), path+strings.TrimPrefix(tc.want, "firebreak.yaml")) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("data dir created despite bad config")
			}
		})
	}
}

// TestWorkerAndServeScaleOut runs the production shape against the dev
// server's Temporal: a worker and a serve process, separate, on a task
// queue of their own (the dev process's own worker polls another), so the
// separate worker is the only one that can answer.
func TestWorkerAndServeScaleOut(t *testing.T) {
	d := startDev(t, t.TempDir(), "TEMPORAL_TASK_QUEUE=firebreak-dev")
	const queue = "firebreak-scale-out"
	env := []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "TEMPORAL_TASK_QUEUE=" + queue, "FIREBREAK_LOG_FORMAT=json"}

	servePort, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	serve, err := harness.Start(bin, env, "serve", "--http", "127.0.0.1:"+itoa(servePort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Stop(10 * time.Second) })
	workerPort, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	w, err := harness.Start(bin, env, "worker", "--http", "127.0.0.1:"+itoa(workerPort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop(10 * time.Second) })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	readyz := "http://127.0.0.1:" + itoa(servePort) + "/readyz"
	if err := serve.WaitReady(ctx, readyz); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitReady(ctx, "http://127.0.0.1:"+itoa(workerPort)+"/readyz"); err != nil {
		t.Fatal(err)
	}

	// `firebreak ping` is a client of the same cluster; the separate
	// worker process answers, by its identity (pid@host).
	cmd := exec.CommandContext(ctx, bin, "ping", "--message", "scale")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pong: scale") {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("worker %d@%s)", w.Cmd.Process.Pid, host); !strings.Contains(string(out), want) {
		t.Fatalf("ping was not answered by the worker process (want %q):\n%s", want, out)
	}

	// Only the worker stops; Temporal stays up, so serve's 503 can only
	// be about the task queue having no worker.
	if err := w.Stop(10 * time.Second); err != nil || w.ExitCode() != 0 {
		t.Fatalf("worker stop: %v, exit %d\n%s", err, w.ExitCode(), w.Output())
	}
	// Temporal lists a worker that stopped polling for its
	// matching.PollerHistoryTTL, which the embedded server lowers to 30 s
	// (5 minutes elsewhere): wait that long, plus a margin.
	var code int
	var body string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, body = get(t, readyz)
		if code == http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		<-time.After(time.Second)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no worker polls task queue "+queue) {
		t.Fatalf("serve /readyz with the worker gone and Temporal up: %d %q, want 503 saying no worker polls %s", code, body, queue)
	}
	if c, _ := get(t, d.URL("/readyz")); c != http.StatusOK {
		t.Fatalf("the dev process's own /readyz: %d; Temporal should still be up", c)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
