package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/integrations/temporal/devdir"
)

// runningDev makes a data dir as a running `firebreak dev` keeps it:
// locked, with its frontend address published.
func runningDev(t *testing.T, addr string) string {
	t.Helper()
	dir := t.TempDir()
	l, err := devdir.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Release() })
	if err := l.PublishAddress(addr); err != nil {
		t.Fatal(err)
	}
	return dir
}

// killedDev makes a data dir as a dev killed with -9 leaves it: its PID
// and address in their files, no lock.
func killedDev(t *testing.T, addr string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{devdir.LockFile: strconv.Itoa(os.Getpid()), devdir.AddressFile: addr + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestClientAddress(t *testing.T) {
	live := runningDev(t, "127.0.0.1:17001")
	stale := killedDev(t, "127.0.0.1:17002")
	empty := t.TempDir()
	file := writeFile(t, "temporal:\n  address: from-file:7233\n")
	for _, tc := range []struct {
		name     string
		file     string
		env      map[string]string
		mode     Mode
		want     string
		wantFrom string
	}{
		{"TEMPORAL_ADDRESS wins over a running dev", "", map[string]string{"TEMPORAL_ADDRESS": "ext:7233", "FIREBREAK_DATA_DIR": live}, ModeClient, "ext:7233", "TEMPORAL_ADDRESS"},
		{"temporal.address in the file", file, map[string]string{"FIREBREAK_DATA_DIR": live}, ModeClient, "from-file:7233", file + ":2"},
		{"the running dev's address", "", map[string]string{"FIREBREAK_DATA_DIR": live}, ModeClient, "127.0.0.1:17001", filepath.Join(live, devdir.AddressFile)},
		{"workers find it too", "", map[string]string{"FIREBREAK_DATA_DIR": live}, ModeWorker, "127.0.0.1:17001", filepath.Join(live, devdir.AddressFile)},
		{"a dead dev's address is not used", "", map[string]string{"FIREBREAK_DATA_DIR": stale, "FIREBREAK_TEMPORAL_PORT": "17003"}, ModeClient, "127.0.0.1:17003", "local port from FIREBREAK_TEMPORAL_PORT, no firebreak dev running on " + stale},
		{"no dev: the default port", "", map[string]string{"FIREBREAK_DATA_DIR": empty}, ModeClient, "127.0.0.1:7233", "local default, no firebreak dev running on " + empty},
		{"no dev, any-port dev config: the default port", "", map[string]string{"FIREBREAK_DATA_DIR": empty, "FIREBREAK_TEMPORAL_PORT": "0"}, ModeClient, "127.0.0.1:7233", ""},
		{"dev itself embeds", "", map[string]string{"FIREBREAK_DATA_DIR": live}, ModeDev, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(tc.file, env(tc.env), tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Temporal.Address != tc.want {
				t.Errorf("address %q, want %q", cfg.Temporal.Address, tc.want)
			}
			if tc.wantFrom != "" && cfg.Temporal.AddressFrom != tc.wantFrom {
				t.Errorf("from %q, want %q", cfg.Temporal.AddressFrom, tc.wantFrom)
			}
		})
	}
}

func TestGarbledAddressFileIsAConfigError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, devdir.AddressFile), []byte("nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load("", env(map[string]string{"FIREBREAK_DATA_DIR": dir}), ModeClient)
	want := filepath.Join(dir, devdir.AddressFile) + `: want the host:port firebreak dev writes, got "nonsense"`
	if !IsConfigError(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load: %v, want a config error containing %q", err, want)
	}
}

func TestDevFlagsThatCannotApply(t *testing.T) {
	ext := map[string]string{"TEMPORAL_ADDRESS": "ext:7233"}
	for _, flag := range []Override{
		{Env: "FIREBREAK_DATA_DIR", Flag: "--data-dir", Value: "/tmp/x"},
		{Env: "FIREBREAK_TEMPORAL_PORT", Flag: "--temporal-port", Value: "7300"},
		{Env: "FIREBREAK_UI_PORT", Flag: "--ui-port", Value: "8300"},
	} {
		t.Run(flag.Flag, func(t *testing.T) {
			_, err := Load("", env(ext), ModeDev, flag)
			want := flag.Flag + ": cannot apply: temporal.address is set to ext:7233 (by TEMPORAL_ADDRESS), so dev uses that cluster and embeds no Temporal server"
			if !IsConfigError(err) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Load: %v, want %q", err, want)
			}
			// Without an external cluster the flag applies.
			if _, err := Load("", env(nil), ModeDev, flag); err != nil {
				t.Fatalf("without TEMPORAL_ADDRESS: %v", err)
			}
		})
	}
	// The same settings from the environment are not an explicit request
	// (a shell profile may export them): dev logs which cluster it uses.
	if _, err := Load("", env(map[string]string{"TEMPORAL_ADDRESS": "ext:7233", "FIREBREAK_DATA_DIR": "/tmp/x", "FIREBREAK_TEMPORAL_PORT": "7300"}), ModeDev); err != nil {
		t.Fatalf("env settings with TEMPORAL_ADDRESS: %v", err)
	}
}

func TestPortValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		flags []Override
		want  string
	}{
		{"http port out of range", nil, []Override{{Env: "FIREBREAK_HTTP_ADDR", Flag: "--http", Value: "127.0.0.1:99999"}},
			`--http (http.addr): want host:port, got "127.0.0.1:99999": the port must be a number from 0 to 65535`},
		{"http port not a number", map[string]string{"FIREBREAK_HTTP_ADDR": "127.0.0.1:web"}, nil,
			`FIREBREAK_HTTP_ADDR (http.addr): want host:port, got "127.0.0.1:web": the port must be a number from 0 to 65535`},
		{"http without port", map[string]string{"FIREBREAK_HTTP_ADDR": "127.0.0.1"}, nil,
			`FIREBREAK_HTTP_ADDR (http.addr): want host:port`},
		{"temporal address port 0", map[string]string{"TEMPORAL_ADDRESS": "t:0"}, nil,
			`TEMPORAL_ADDRESS (temporal.address): want host:port, got "t:0": the port must be a number from 1 to 65535`},
		{"ui port out of range", map[string]string{"FIREBREAK_UI_PORT": "70000"}, nil,
			`FIREBREAK_UI_PORT (temporal.ui_port): want a port number 0-65535, got 70000`},
		{"ui port not a number", map[string]string{"FIREBREAK_UI_PORT": "ui"}, nil,
			`FIREBREAK_UI_PORT (temporal.ui_port): want a port number, got "ui"`},
		{"temporal port out of range", nil, []Override{{Env: "FIREBREAK_TEMPORAL_PORT", Flag: "--temporal-port", Value: "-1"}},
			`--temporal-port (temporal.dev_port): want a port number 0-65535, got -1`},
		{"headless not a bool", map[string]string{"FIREBREAK_HEADLESS": "sure"}, nil,
			`FIREBREAK_HEADLESS (temporal.headless): want true or false, got "sure"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("", env(tc.env), ModeDev, tc.flags...)
			if !IsConfigError(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want %q", err, tc.want)
			}
		})
	}
	cfg, err := Load("", env(map[string]string{"FIREBREAK_HTTP_ADDR": "127.0.0.1:0", "FIREBREAK_UI_PORT": "0", "FIREBREAK_HEADLESS": "true"}), ModeDev)
	if err != nil || cfg.Temporal.UIPort != 0 || !cfg.Temporal.Headless {
		t.Fatalf("port 0 and headless: %+v %v", cfg, err)
	}
}
