// Command bench measures Firebreak's speed and memory goals against the
// real binary on this machine and prints a Markdown table for README.md.
// It is a measurement, not a test: nothing here passes or fails on time.
//
//	go run ./test/bench                      # startup, memory, ping latency
//	go run ./test/bench -runs 200 -idle 30s -starts 5
//	go run ./test/bench -suite interpreter   # playbook interpreter overhead
//	go run ./test/bench -suite slack         # Slack ack latency at 50 req/s
//	go run ./test/bench -suite declare       # 50 declares/s for 60 s: acks, incidents, duplicates
//	go run ./test/bench -suite peer          # the same workflow on firebreak dev and on the Temporal CLI's dev server
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-ir/firebreak/test/harness"
	"github.com/firebreak-ir/firebreak/workflows"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	runs := flag.Int("runs", 200, "Ping workflows to time")
	starts := flag.Int("starts", 5, "cold and warm starts of firebreak dev to time")
	idle := flag.Duration("idle", 30*time.Second, "idle time before reading RSS")
	suite := flag.String("suite", "dev", "dev (startup, memory, ping latency), interpreter (playbook overhead), slack (ack latency), declare (declares under load) or peer (against the Temporal CLI's dev server)")
	rps := flag.Int("rps", 50, "slack, declare: slash commands per second")
	dur := flag.Duration("duration", 0, "slack, declare: how long to send them (default 30s for slack, 60s for declare)")
	declares := flag.Int("declares", 20, "slack: declares to time")
	temporalBin := flag.String("temporal", "", "peer: path of the Temporal CLI (default $GOBIN/temporal or ~/go/bin/temporal)")
	flag.Parse()
	switch *suite {
	case "dev":
		return benchDev(*runs, *starts, *idle)
	case "interpreter":
		return benchInterpreter(*runs)
	case "slack":
		return benchSlack(*rps, cmp.Or(*dur, 30*time.Second), *declares)
	case "declare":
		return benchDeclare(*rps, cmp.Or(*dur, 60*time.Second))
	case "peer":
		return benchPeer(*runs, *temporalBin)
	default:
		return fmt.Errorf("unknown -suite %q", *suite)
	}
}

func benchDev(runs, starts int, idle time.Duration) error {
	ctx := context.Background()
	tmp, bin, err := build(ctx)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Start to /readyz: first start creates the database; later starts reuse it.
	var cold, warm []time.Duration
	for i := range starts {
		dir := filepath.Join(tmp, "start"+strconv.Itoa(i))
		for j, into := range []*[]time.Duration{&cold, &warm} {
			d, took, err := startReady(ctx, bin, dir)
			if err != nil {
				return fmt.Errorf("start %d/%d: %w", i, j, err)
			}
			*into = append(*into, took)
			if err := d.Stop(30 * time.Second); err != nil {
				return err
			}
		}
	}

	d, _, err := startReady(ctx, bin, filepath.Join(tmp, "main"))
	if err != nil {
		return err
	}
	defer func() { _ = d.Stop(30 * time.Second) }()
	fmt.Fprintf(os.Stderr, "idling %s...\n", idle)
	time.Sleep(idle) // the measurement is of an idle process, so waiting is the point
	idleRSS, err := rss(d.Cmd.Process.Pid)
	if err != nil {
		return err
	}

	c, err := client.Dial(client.Options{HostPort: d.TemporalAddr})
	if err != nil {
		return err
	}
	defer c.Close()
	var lat []time.Duration
	var ids []string
	for i := range runs + 10 {
		t0 := time.Now()
		r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "firebreak"}, workflows.PingWorkflow, workflows.PingInput{Message: "bench"})
		if err != nil {
			return err
		}
		var res workflows.PingResult
		if err := r.Get(ctx, &res); err != nil {
			return err
		}
		if i >= 10 { // the first few warm up connections and caches
			lat = append(lat, res.ActivityStartedAt.Sub(t0))
			ids = append(ids, r.GetID())
		}
	}
	if err := historyGaps(ctx, c, ids, os.Stderr); err != nil {
		return err
	}
	busyRSS, err := rss(d.Cmd.Process.Pid)
	if err != nil {
		return err
	}

	fmt.Printf("| measurement | result | goal |\n|---|---|---|\n")
	fmt.Printf("| `firebreak dev` start → /readyz, new data dir (median of %d, max) | %s, %s | ≤ 2 s |\n", len(cold), ms(pct(cold, 50)), ms(pct(cold, 100)))
	fmt.Printf("| `firebreak dev` start → /readyz, existing data dir (median of %d, max) | %s, %s | ≤ 2 s |\n", len(warm), ms(pct(warm, 50)), ms(pct(warm, 100)))
	fmt.Printf("| idle RSS after %s | %d MB | ≤ 300 MB |\n", idle, idleRSS>>20)
	fmt.Printf("| Ping workflow start → first activity running, p50 / p95 / max over %d runs | %s / %s / %s | p95 ≤ 100 ms |\n",
		len(lat), ms(pct(lat, 50)), ms(pct(lat, 95)), ms(pct(lat, 100)))
	fmt.Printf("| RSS after the runs | %d MB | |\n", busyRSS>>20)
	return nil
}

// startReady starts firebreak dev on dir with env and waits up to a
// minute for /readyz; it returns how long that took. On failure the
// process is stopped.
func startReady(ctx context.Context, bin, dir string, env ...string) (*harness.Dev, time.Duration, error) {
	d, err := harness.StartDev(bin, dir, env...)
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.WaitReady(ctx, d.URL("/readyz")); err != nil {
		_ = d.Stop(30 * time.Second)
		return nil, 0, err
	}
	return d, time.Since(d.Started), nil
}

// rss reads the resident set size of pid from /proc.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// build compiles firebreak into a fresh temporary directory.
func build(ctx context.Context) (dir, bin string, err error) {
	dir, err = os.MkdirTemp("", "firebreak-bench")
	if err != nil {
		return "", "", err
	}
	fmt.Fprintln(os.Stderr, "building firebreak...")
	bin, err = harness.Build(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, bin, nil
}
