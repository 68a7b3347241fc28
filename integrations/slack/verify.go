// Package slack is Firebreak's Slack bot: request verification, the
// /incident command, Block Kit messages, and the handlers that connect
// them to Temporal.
package slack

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/integrations/config"
)

// Headers Slack signs every request with.
const (
	headerSignature = "X-Slack-Signature"
	headerTimestamp = "X-Slack-Request-Timestamp"
)

// Verifier defaults.
const (
	// DefaultWindow is how far a request's timestamp may be from now, either
	// way. It is also the most the SDK's verifier allows, so WithWindow can
	// only narrow it.
	DefaultWindow = 5 * time.Minute
	// DefaultMaxBodyBytes is plenty: Slack payloads are a few KB.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultReplayCacheSize bounds the replay cache. Only requests with a
	// valid signature enter it, so it fills at Slack's pace, not an
	// attacker's. When full, the oldest entry goes and that request could
	// be replayed until its timestamp is stale, so this is far above the
	// requests a bot sees in one window (33 a second for 5 minutes).
	DefaultReplayCacheSize = 10000
)

// Reasons a request fails verification. Errors wrap one of these; their
// text never includes the secret, the body or the signature.
var (
	ErrMissingHeaders = errors.New("missing or malformed slack signature headers")
	ErrStale          = errors.New("stale slack request timestamp")
	ErrBadSignature   = errors.New("bad slack request signature")
	ErrReplay         = errors.New("replayed slack request")
	ErrBodyTooLarge   = errors.New("slack request body too large")
	ErrNotConfigured  = errors.New("slack signing secret not configured")
)

// Verifier checks that HTTP requests come from Slack: a valid v0
// signature, a fresh timestamp, never seen before, and a small body. It is
// safe for concurrent use.
type Verifier struct {
	secret    config.Secret
	now       func() time.Time
	window    time.Duration
	maxBody   int64
	cacheSize int

	mu sync.Mutex
	// seen maps a signature to when its entry expires; order holds the
	// same keys oldest first, so eviction is O(1).
	seen  map[string]time.Time
	order []seenEntry
	head  int
}

type seenEntry struct {
	key     string
	expires time.Time
}

// VerifierOption configures a Verifier.
type VerifierOption func(*Verifier)

// WithClock sets the clock the timestamp window and the replay cache use
// (tests). The SDK's signature verifier also checks the timestamp against
// the wall clock, so the clock must stay within the window of real time.
func WithClock(now func() time.Time) VerifierOption {
	return func(v *Verifier) {
		if now != nil {
			v.now = now
		}
	}
}

// WithWindow sets how far a timestamp may be from now, capped at
// DefaultWindow (the SDK rejects anything older anyway).
func WithWindow(d time.Duration) VerifierOption {
	return func(v *Verifier) {
		if d > 0 {
			v.window = min(d, DefaultWindow)
		}
	}
}

// WithMaxBodyBytes sets the largest body accepted.
func WithMaxBodyBytes(n int64) VerifierOption {
	return func(v *Verifier) {
		if n > 0 {
			v.maxBody = n
		}
	}
}

// WithReplayCacheSize sets how many signatures the replay cache holds
// before it evicts the oldest.
func WithReplayCacheSize(n int) VerifierOption {
	return func(v *Verifier) {
		if n > 0 {
			v.cacheSize = n
		}
	}
}

// NewVerifier returns a Verifier for the app's signing secret. An unset
// secret makes every request fail with ErrNotConfigured rather than pass.
func NewVerifier(secret config.Secret, opts ...VerifierOption) *Verifier {
	v := &Verifier{
		secret:    secret,
		now:       time.Now,
		window:    DefaultWindow,
		maxBody:   DefaultMaxBodyBytes,
		cacheSize: DefaultReplayCacheSize,
	}
	for _, o := range opts {
		o(v)
	}
	v.seen = make(map[string]time.Time)
	return v
}

// Verify checks one request's headers and raw body. A request that passes
// is remembered, so the same request fails with ErrReplay afterwards.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	if !v.secret.IsSet() {
		return ErrNotConfigured
	}
	sigHeader, tsHeader := h.Get(headerSignature), h.Get(headerTimestamp)
	if sigHeader == "" || tsHeader == "" {
		return fmt.Errorf("%w: need %s and %s", ErrMissingHeaders, headerSignature, headerTimestamp)
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp is not unix seconds", ErrMissingHeaders)
	}
	// The signature's hex case is not significant; key the replay cache on
	// the decoded bytes so an upper-cased copy is still a replay.
	hexSig, ok := strings.CutPrefix(sigHeader, "v0=")
	if !ok {
		return fmt.Errorf("%w: not a v0 signature", ErrBadSignature)
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrBadSignature)
	}
	if int64(len(body)) > v.maxBody {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBodyTooLarge, len(body), v.maxBody)
	}

	now := v.now()
	sent := time.Unix(ts, 0)
	if skew := now.Sub(sent).Abs(); skew > v.window {
		return fmt.Errorf("%w: %s from now, limit %s", ErrStale, skew.Round(time.Second), v.window)
	}

	sv, err := goslack.NewSecretsVerifier(h, v.secret.Reveal())
	switch {
	case errors.Is(err, goslack.ErrExpiredTimestamp):
		return fmt.Errorf("%w: more than 5m from the wall clock", ErrStale)
	case err != nil:
		// The SDK's other errors are about the signature's shape; don't
		// echo them, they may quote the header.
		return fmt.Errorf("%w: malformed signature", ErrBadSignature)
	}
	if _, err := sv.Write(body); err != nil {
		return fmt.Errorf("%w: hashing body", ErrBadSignature)
	}
	if err := sv.Ensure(); err != nil {
		return ErrBadSignature
	}

	// A request is valid until its timestamp leaves the window, so its
	// entry need not outlive that.
	if !v.remember(string(sig), sent.Add(v.window), now) {
		return ErrReplay
	}
	return nil
}

// remember records key until expires and reports whether it was new.
func (v *Verifier) remember(key string, expires, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if exp, ok := v.seen[key]; ok && now.Before(exp) {
		return false
	}
	// Drop expired entries from the front, then the oldest while full.
	for v.head < len(v.order) {
		e := v.order[v.head]
		if now.Before(e.expires) && len(v.order)-v.head < v.cacheSize {
			break
		}
		if v.seen[e.key].Equal(e.expires) {
			delete(v.seen, e.key)
		}
		v.order[v.head] = seenEntry{}
		v.head++
	}
	// Compact once the dead prefix is half the slice, keeping appends
	// amortised O(1) and memory bounded by about twice the cache size.
	if v.head > 0 && v.head >= len(v.order)/2 {
		n := copy(v.order, v.order[v.head:])
		clear(v.order[n:])
		v.order = v.order[:n]
		v.head = 0
	}
	v.seen[key] = expires
	v.order = append(v.order, seenEntry{key: key, expires: expires})
	return true
}

// cached reports how many signatures the replay cache holds.
func (v *Verifier) cached() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.seen)
}

// Middleware verifies every request before next sees it. It reads the body
// up to the limit (413 beyond it), answers 401 to requests that fail and
// logs why (method, path, remote address, reason; never the body or the
// signature), and hands next the body again.
func (v *Verifier) Middleware(next http.Handler, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reject := func(status int, reason error) {
			level := slog.LevelWarn
			if errors.Is(reason, ErrNotConfigured) {
				level = slog.LevelError
			}
			log.LogAttrs(r.Context(), level, "slack request rejected",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("remote_addr", r.RemoteAddr),
				slog.String("reason", reason.Error()),
			)
			http.Error(w, http.StatusText(status), status)
		}
		if r.ContentLength > v.maxBody {
			reject(http.StatusRequestEntityTooLarge, fmt.Errorf("%w: content length %d, limit %d", ErrBodyTooLarge, r.ContentLength, v.maxBody))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, v.maxBody+1))
		if err != nil {
			reject(http.StatusBadRequest, fmt.Errorf("read body: %w", err))
			return
		}
		if int64(len(body)) > v.maxBody {
			reject(http.StatusRequestEntityTooLarge, fmt.Errorf("%w: limit %d", ErrBodyTooLarge, v.maxBody))
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, ErrNotConfigured) {
				status = http.StatusInternalServerError
			}
			reject(status, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}
