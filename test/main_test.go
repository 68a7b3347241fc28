// Package test holds Firebreak's end-to-end tests: they build the real
// binary and talk to it over HTTP and Temporal's gRPC API, as operators
// and Slack would.
package test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/test/harness"
)

// bin is the firebreak binary built once for the whole package.
var bin string

// slackCalls adds up every test's fake Slack calls for the manifest check
// after the run. It is package state because the check spans all tests
// and only TestMain sees them all.
var slackCalls = &callLog{}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "firebreak-e2e")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		bin, err = harness.Build(ctx, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		code := m.Run()
		if err := checkManifestScopes(slackCalls); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
		return code
	}())
}
