// Package harness runs the real firebreak binary for end-to-end tests and
// benchmarks: build it, start it on free ports, wait for it to be ready,
// stop it with a signal. Everything crosses a process boundary, as in
// production.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Build compiles ./cmd/firebreak into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "firebreak")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/firebreak")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot finds the directory holding go.mod, from this source file.
func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate harness source")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above " + file)
		}
		dir = parent
	}
}

// FreePort returns a loopback port nobody listens on right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Process is a running firebreak command.
type Process struct {
	Cmd     *exec.Cmd
	Started time.Time
	out     *syncBuffer
	done    chan struct{}
	err     error
}

// Start runs bin with args and extra environment (KEY=VALUE), capturing
// stdout and stderr together.
func Start(bin string, env []string, args ...string) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	p := &Process{Cmd: cmd, out: out, done: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Output is everything the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the exit status once Done is closed (-1 if killed by a signal).
func (p *Process) ExitCode() int { return p.Cmd.ProcessState.ExitCode() }

// Stop sends SIGTERM and waits up to timeout for a clean exit, then kills.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = p.Cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("did not exit within %s of SIGTERM; killed", timeout)
	}
}

// WaitReady polls url until it answers 200, the process exits, or ctx ends.
func (p *Process) WaitReady(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited (%v) before ready:\n%s", p.err, p.Output())
		case <-ctx.Done():
			return fmt.Errorf("not ready at %s: %w\n%s", url, ctx.Err(), p.Output())
		case <-tick.C:
		}
	}
}

// Dev is a `firebreak dev` process on free ports with its own data dir.
type Dev struct {
	*Process
	DataDir      string
	HTTPAddr     string
	TemporalAddr string
	// UIAddr is the Temporal Web UI's host:port, "" when headless.
	UIAddr string
}

// StartDev runs `firebreak dev` on fresh ports using dataDir, without
// the Web UI.
func StartDev(bin, dataDir string, env ...string) (*Dev, error) {
	httpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	tPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	return StartDevOn(bin, dataDir, httpPort, tPort, env...)
}

// StartDevOn runs `firebreak dev` on the given ports, without the Web UI
// (tests run many at once, and the UI's default port is one).
func StartDevOn(bin, dataDir string, httpPort, temporalPort int, env ...string) (*Dev, error) {
	return startDev(bin, dataDir, httpPort, temporalPort, -1, env)
}

// StartDevWithUI runs `firebreak dev` on fresh ports, the Web UI's too.
func StartDevWithUI(bin, dataDir string, env ...string) (*Dev, error) {
	var ports [3]int
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	return startDev(bin, dataDir, ports[0], ports[1], ports[2], env)
}

// startDev runs `firebreak dev`; uiPort < 0 means headless.
func startDev(bin, dataDir string, httpPort, temporalPort, uiPort int, env []string) (*Dev, error) {
	d := &Dev{
		DataDir:      dataDir,
		HTTPAddr:     "127.0.0.1:" + strconv.Itoa(httpPort),
		TemporalAddr: "127.0.0.1:" + strconv.Itoa(temporalPort),
	}
	args := []string{"dev", "--data-dir", dataDir, "--http", d.HTTPAddr, "--temporal-port", strconv.Itoa(temporalPort)}
	if uiPort < 0 {
		args = append(args, "--headless")
	} else {
		d.UIAddr = "127.0.0.1:" + strconv.Itoa(uiPort)
		args = append(args, "--ui-port", strconv.Itoa(uiPort))
	}
	p, err := Start(bin, append([]string{"FIREBREAK_LOG_FORMAT=json"}, env...), args...)
	if err != nil {
		return nil, err
	}
	d.Process = p
	return d, nil
}

// URL is an address on the dev process's HTTP server.
func (d *Dev) URL(path string) string { return "http://" + d.HTTPAddr + path }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
