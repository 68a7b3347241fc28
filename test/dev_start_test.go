package test

import (
	"context"
	"errors"
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

	"github.com/firebreak-ir/firebreak/test/harness"
)

// clientEnv is the test's environment without any Temporal address, so
// a client command has to find the dev server by itself, plus env.
func clientEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_ADDRESS=") && !strings.HasPrefix(kv, "FIREBREAK_TEMPORAL_PORT=") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// run runs the binary with exactly env and returns its exit code and
// combined output.
func run(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

func waitExit(t *testing.T, p *harness.Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(60 * time.Second):
		_ = p.Stop(time.Second)
		t.Fatalf("still running after 60s:\n%s", p.Output())
	}
}

// TestDevDataDirLock: a second dev on a data dir in use exits at once,
// naming the holder's PID; the lock dies with the holder, even by kill -9,
// and a client then ignores the address file the killed dev left.
func TestDevDataDirLock(t *testing.T) {
	dataDir, err := filepath.Abs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	first := startDev(t, dataDir)

	// Same HTTP port as the first: the data dir is what is refused, before
	// any port is tried.
	httpPort, _ := strconv.Atoi(strings.TrimPrefix(first.HTTPAddr, "127.0.0.1:"))
	tPort, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	second, err := harness.StartDevOn(bin, dataDir, httpPort, tPort)
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, second.Process)
	want := "data dir " + dataDir + " is in use by another firebreak dev (pid " + itoa(first.Cmd.Process.Pid) + ")"
	if second.ExitCode() != 1 || !strings.Contains(second.Output(), want) {
		t.Fatalf("second dev: exit %d, want 1 and %q:\n%s", second.ExitCode(), want, second.Output())
	}
	if c, _ := get(t, first.URL("/readyz")); c != http.StatusOK {
		t.Fatalf("first dev after the second was refused: /readyz %d", c)
	}

	if err := first.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.Done()
	if _, err := os.Stat(filepath.Join(dataDir, "temporal.addr")); err != nil {
		t.Fatalf("kill -9 should leave the address file behind for this test to mean anything: %v", err)
	}
	// The dead dev's address is not used: the client falls back to the
	// local port it is told.
	deadPort, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	code, out := run(t, clientEnv("FIREBREAK_DATA_DIR="+dataDir, "FIREBREAK_TEMPORAL_PORT="+itoa(deadPort)), "ping")
	if code != 1 || !strings.Contains(out, "127.0.0.1:"+itoa(deadPort)) || !strings.Contains(out, "no firebreak dev running on "+dataDir) {
		t.Fatalf("ping after kill -9: exit %d, want 1 dialling the fallback port:\n%s", code, out)
	}

	third := startDev(t, dataDir)
	if c, _ := get(t, third.URL("/readyz")); c != http.StatusOK {
		t.Fatalf("dev after kill -9 of the holder: /readyz %d\n%s", c, third.Output())
	}
}

// TestClientsFindDevWithoutFlags: after `dev --temporal-port P`, client
// commands reach it with only the data dir known; after a clean stop the
// address file is gone.
func TestClientsFindDevWithoutFlags(t *testing.T) {
	dataDir := t.TempDir()
	d := startDev(t, dataDir)
	env := clientEnv("FIREBREAK_DATA_DIR="+dataDir, "FIREBREAK_LOG_LEVEL=warn")

	if code, out := run(t, env, "ping", "--message", "found"); code != 0 || !strings.Contains(out, "pong: found") {
		t.Fatalf("ping without TEMPORAL_ADDRESS: exit %d\n%s", code, out)
	}
	if code, out := run(t, env, "playbook", "run", "rollback-drill", "--plan"); code != 0 {
		t.Fatalf("playbook run --plan without TEMPORAL_ADDRESS: exit %d\n%s", code, out)
	}

	// An explicit address still wins over the data dir's.
	code, out := run(t, append(env, "TEMPORAL_ADDRESS=127.0.0.1:1"), "ping")
	if code != 1 || !strings.Contains(out, "127.0.0.1:1") || !strings.Contains(out, "address from TEMPORAL_ADDRESS") {
		t.Fatalf("ping with TEMPORAL_ADDRESS set elsewhere: exit %d\n%s", code, out)
	}

	if err := d.Stop(10 * time.Second); err != nil || d.ExitCode() != 0 {
		t.Fatalf("stop: %v, exit %d\n%s", err, d.ExitCode(), d.Output())
	}
	if _, err := os.Stat(filepath.Join(dataDir, "temporal.addr")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporal.addr after a clean stop: %v", err)
	}
}

// TestDevWithExternalCluster: with TEMPORAL_ADDRESS set, dev flags that
// cannot apply are usage errors, and without them dev says which cluster
// it uses and embeds nothing.
func TestDevWithExternalCluster(t *testing.T) {
	d := startDev(t, t.TempDir())
	dir := t.TempDir()
	unused := filepath.Join(dir, "unused")
	for _, flag := range [][]string{{"--data-dir", unused}, {"--temporal-port", "7300"}, {"--ui-port", "8300"}} {
		code, out := run(t, clientEnv("TEMPORAL_ADDRESS="+d.TemporalAddr), append([]string{"dev", "--http", "127.0.0.1:0"}, flag...)...)
		want := flag[0] + ": cannot apply: temporal.address is set to " + d.TemporalAddr + " (by TEMPORAL_ADDRESS), so dev uses that cluster and embeds no Temporal server"
		if code != 2 || !strings.Contains(out, want) {
			t.Errorf("dev %s with TEMPORAL_ADDRESS: exit %d, want 2 and %q:\n%s", flag[0], code, want, out)
		}
	}
	if _, err := os.Stat(unused); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir created by a refused dev: %v", err)
	}

	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ext, err := harness.Start(bin, []string{"TEMPORAL_ADDRESS=" + d.TemporalAddr, "FIREBREAK_DATA_DIR=" + unused, "FIREBREAK_LOG_FORMAT=json"},
		"dev", "--http", "127.0.0.1:"+itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ext.Stop(10 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ext.WaitReady(ctx, "http://127.0.0.1:"+itoa(port)+"/readyz"); err != nil {
		t.Fatal(err)
	}
	want := `"msg":"using an external temporal cluster, embedding none","address":"` + d.TemporalAddr + `","from":"TEMPORAL_ADDRESS"`
	if !strings.Contains(ext.Output(), want) || strings.Contains(ext.Output(), "starting temporal server") {
		t.Errorf("dev with TEMPORAL_ADDRESS: want %s and no embedded server:\n%s", want, ext.Output())
	}
	if _, err := os.Stat(unused); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dev with an external cluster created its data dir: %v", err)
	}
}

// TestEarlyReadyzIsAnswered: the HTTP port answers from the moment it is
// bound: /readyz 503 with the start-up phase, not a request held open
// until the stack is ready.
func TestEarlyReadyzIsAnswered(t *testing.T) {
	d, err := harness.StartDev(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(10 * time.Second) })
	// A request held open until the stack is ready would run into this
	// deadline, or answer 200 after it.
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.After(60 * time.Second)
	for {
		resp, err := client.Get(d.URL("/readyz"))
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			select { // not bound yet
			case <-d.Done():
				t.Fatalf("dev exited:\n%s", d.Output())
			case <-deadline:
				t.Fatalf("HTTP port never bound:\n%s", d.Output())
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			t.Fatalf("first /readyz: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(string(body), "starting: ") || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("first /readyz: %d %q (Retry-After %q), want 503 \"starting: <phase>\"", resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
		break
	}
	if code, body := get(t, d.URL("/healthz")); code != http.StatusOK || !strings.Contains(body, "ok") {
		t.Fatalf("/healthz while starting: %d %q", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx, d.URL("/readyz")); err != nil {
		t.Fatal(err)
	}
}

// TestDevServesTheWebUI: the Temporal Web UI loads, and its API lists the
// workflows a client ran. The log shows each start-up phase, then one
// ready line with every address, durations as text.
func TestDevServesTheWebUI(t *testing.T) {
	dataDir := t.TempDir()
	d, err := harness.StartDevWithUI(bin, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(10 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx, d.URL("/readyz")); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get("http://" + d.UIAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(strings.ToLower(string(page)), "<html") {
		t.Fatalf("UI index: %d %s\n%.300s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}

	code, out := run(t, clientEnv("FIREBREAK_DATA_DIR="+dataDir), "ping", "--message", "ui")
	if code != 0 {
		t.Fatalf("ping: exit %d\n%s", code, out)
	}
	// "… (workflow <id>, worker …)"
	_, after, _ := strings.Cut(out, "(workflow ")
	id, _, _ := strings.Cut(after, ",")
	if id == "" {
		t.Fatalf("no workflow ID in ping's output: %s", out)
	}
	var body string
	waitFor(t, func() bool { // visibility is eventually consistent
		code, body = get(t, "http://"+d.UIAddr+"/api/v1/namespaces/default/workflows")
		return code == http.StatusOK && strings.Contains(body, id)
	})
	if !strings.Contains(body, "PingWorkflow") {
		t.Fatalf("UI API lists %s but not as a PingWorkflow:\n%.500s", id, body)
	}

	log := d.Output()
	rest := log
	for _, msg := range []string{"starting temporal database", "starting temporal namespace", "starting temporal server", "starting web ui",
		"starting temporal client", "starting worker", "starting http", "firebreak ready"} {
		i := strings.Index(rest, `"msg":"`+msg+`"`)
		if i < 0 {
			t.Fatalf("log lacks %q after the phases before it:\n%s", msg, log)
		}
		rest = rest[i:]
	}
	ready, _, _ := strings.Cut(rest, "\n")
	for _, want := range []string{`"temporal":"` + d.TemporalAddr + `"`, `"http":"http://` + d.HTTPAddr + `"`, `"ui":"http://` + d.UIAddr + `"`, `"took":"`} {
		if !strings.Contains(ready, want) {
			t.Errorf("ready line lacks %s: %s", want, ready)
		}
	}
}

// TestDevPortErrors: an out-of-range port is bad configuration (exit 2,
// nothing created); a taken UI port is a runtime failure naming the port
// (exit 1), refused before the database is touched.
func TestDevPortErrors(t *testing.T) {
	dir := t.TempDir()
	code, out := run(t, clientEnv(), "dev", "--data-dir", filepath.Join(dir, "data"), "--http", "127.0.0.1:99999")
	if want := `--http (http.addr): want host:port, got "127.0.0.1:99999": the port must be a number from 0 to 65535`; code != 2 || !strings.Contains(out, want) {
		t.Fatalf("--http 127.0.0.1:99999: exit %d, want 2 and %q:\n%s", code, want, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data dir created despite bad config: %v", err)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	uiPort := itoa(busy.Addr().(*net.TCPAddr).Port)
	code, out = run(t, clientEnv(), "dev", "--data-dir", filepath.Join(dir, "data"), "--http", "127.0.0.1:0", "--temporal-port", "0", "--ui-port", uiPort)
	if want := "web ui address 127.0.0.1:" + uiPort + " is already in use"; code != 1 || !strings.Contains(out, want) {
		t.Fatalf("taken UI port: exit %d, want 1 and %q:\n%s", code, want, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "temporal.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporal.db created despite the taken UI port: %v", err)
	}
}
