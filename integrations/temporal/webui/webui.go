// Package webui serves Temporal's Web UI (github.com/temporalio/ui-server)
// against a Temporal frontend, for `firebreak dev`. It imports the UI
// server but not the Temporal server, so it builds on its own.
package webui

import (
	"fmt"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/temporalio/ui-server/v2/server/api"
	"github.com/temporalio/ui-server/v2/server/auth"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/cors"
	"github.com/temporalio/ui-server/v2/server/csrf"
	"github.com/temporalio/ui-server/v2/server/headers"
	"github.com/temporalio/ui-server/v2/server/route"
	"github.com/temporalio/ui-server/v2/ui"
)

// Options say which cluster the UI shows.
type Options struct {
	// TemporalAddress is the frontend's gRPC host:port.
	TemporalAddress string
	// Namespace opens first.
	Namespace string
}

// Handler returns the UI and its HTTP API (/api/v1/..., proxied to the
// frontend over gRPC) as one handler, for a listener the caller owns.
//
// ui-server's own Server binds its port inside Start and exits the whole
// process when that fails, so this assembles the same pieces (its
// middleware, API, auth and asset routes) on an Echo we only use as a
// handler: a taken port is then the caller's error to report, and
// shutdown is the caller's http.Server's.
func Handler(opts Options) (http.Handler, error) {
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: opts.TemporalAddress,
		DefaultNamespace:    opts.Namespace,
		EnableUI:            true,
		// Served over plain HTTP on loopback: a Secure cookie would never
		// come back.
		CORS:             uiconfig.CORS{CookieInsecure: true},
		HideLogs:         true,
		DisableNewsFetch: true, // no calls out of a laptop's dev server
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("web ui: %w", err)
	}
	// RefreshInterval is zero, so this starts no goroutine.
	provider, err := uiconfig.NewConfigProviderWithRefresh(cfg)
	if err != nil {
		return nil, fmt.Errorf("web ui: %w", err)
	}
	assets, err := ui.Assets()
	if err != nil {
		return nil, fmt.Errorf("web ui assets: %w", err)
	}
	if assets, err = fs.Sub(assets, "local"); err != nil {
		return nil, fmt.Errorf("web ui assets: %w", err)
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover(), middleware.Gzip())
	e.Use(cors.CORSMiddleware(cors.CORSConfig{
		AllowHeaders: []string{
			echo.HeaderOrigin, echo.HeaderContentType, echo.HeaderAccept,
			echo.HeaderXCSRFToken, echo.HeaderAuthorization, auth.AuthorizationExtrasHeader, "Caller-Type",
		},
		AllowCredentials: true,
		ConfigProvider:   provider,
	}))
	e.Use(middleware.Secure())
	// The UI reads its CSRF token from this cookie; the check must come after.
	e.Use(csrf.EnsureTokenCookie(false), middleware.CSRFWithConfig(csrf.MiddlewareConfig(provider, false)))
	route.SetHealthRoute(e)
	forward := []api.Middleware{headers.WithForwardHeaders([]string{auth.AuthorizationExtrasHeader, "Caller-Type"})}
	if err := route.SetAPIRoutes(e, provider, forward); err != nil {
		return nil, fmt.Errorf("web ui api: %w", err)
	}
	route.SetAuthRoutes(e, provider)
	if err := route.SetUIRoutes(e, "", assets); err != nil {
		return nil, fmt.Errorf("web ui routes: %w", err)
	}
	route.SetRenderRoute(e, "")
	return e, nil
}
