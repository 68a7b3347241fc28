package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/firebreak-ir/firebreak/integrations/temporal/devdir"
)

// resolveAddress fills Temporal.Address for every command that dials a
// cluster, so none of them needs flags next to a local `firebreak dev`:
// TEMPORAL_ADDRESS or temporal.address when set; else the address a dev
// process running on data_dir published; else 127.0.0.1 on
// temporal.dev_port. Under dev an empty address stays empty: it means
// "embed a server".
func (c *Config) resolveAddress(mode Mode) ErrorList {
	if c.Temporal.Address != "" {
		c.Temporal.AddressFrom = c.source("temporal.address")
		return nil
	}
	if mode == ModeDev {
		return nil
	}
	addr, ok, err := devdir.Address(c.DataDir)
	if err != nil {
		return ErrorList{{Key: "temporal.address", Msg: err.Error()}}
	}
	if ok {
		c.Temporal.Address = addr
		c.Temporal.AddressFrom = filepath.Join(c.DataDir, devdir.AddressFile)
		return nil
	}
	port := c.Temporal.DevPort
	if port == 0 { // dev picked a free port; without its address file, guess the usual one
		port = 7233
	}
	c.Temporal.Address = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c.Temporal.AddressFrom = "local default, no firebreak dev running on " + c.DataDir
	if src := c.source("temporal.dev_port"); src != "default" {
		c.Temporal.AddressFrom = "local port from " + src + ", no firebreak dev running on " + c.DataDir
	}
	return nil
}

// source names what set key last: a flag or environment variable, a
// position in the file, or "default".
func (c *Config) source(key string) string {
	if o, ok := c.origin[key]; ok {
		return o
	}
	if p, ok := c.pos[key]; ok {
		return fmt.Sprintf("%s:%d", c.Source, p.line)
	}
	return "default"
}
