package slack

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/integrations/config"
)

const testSecret = config.Secret("8f742231b10e8888abcd99yyyzzz85a5")

// signed returns Slack's headers for body sent at ts.
func signed(secret config.Secret, ts time.Time, body string) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret.Reveal()))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return h
}

// wallNow is "now" for tests. The SDK's verifier also checks timestamps
// against the wall clock, so injected clocks stay near it.
func wallNow() time.Time { return time.Now().Truncate(time.Second) }

// testClock is a settable clock.
type testClock struct{ t atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.set(t)
	return c
}
func (c *testClock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func (c *testClock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *testClock) add(d time.Duration) { c.set(c.now().Add(d)) }

const form = "token=x&team_id=T1&command=%2Fincident&text=status"

func TestVerifyValid(t *testing.T) {
	now := wallNow()
	v := NewVerifier(testSecret, WithClock(func() time.Time { return now }))
	if err := v.Verify(signed(testSecret, now, form), []byte(form)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	now := wallNow()
	good := signed(testSecret, now, form)
	with := func(key, value string) http.Header {
		h := good.Clone()
		if value == "" {
			h.Del(key)
		} else {
			h.Set(key, value)
		}
		return h
	}
	sig := good.Get("X-Slack-Signature")
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   error
	}{
		{"no signature", with("X-Slack-Signature", ""), form, ErrMissingHeaders},
		{"no timestamp", with("X-Slack-Request-Timestamp", ""), form, ErrMissingHeaders},
		{"no headers", http.Header{}, form, ErrMissingHeaders},
		{"timestamp not a number", with("X-Slack-Request-Timestamp", "yesterday"), form, ErrMissingHeaders},
		{"wrong secret", signed("another-secret", now, form), form, ErrBadSignature},
		{"tampered body", good, strings.Replace(form, "status", "resolve", 1), ErrBadSignature},
		{"appended body", good, form + "&x=1", ErrBadSignature},
		{"other timestamp", with("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix()-1, 10)), form, ErrBadSignature},
		{"not v0", with("X-Slack-Signature", "v1="+strings.TrimPrefix(sig, "v0=")), form, ErrBadSignature},
		{"not hex", with("X-Slack-Signature", "v0=zz"+sig[5:]), form, ErrBadSignature},
		{"short", with("X-Slack-Signature", sig[:20]), form, ErrBadSignature},
		{"stale", signed(testSecret, now.Add(-5*time.Minute-time.Second), form), form, ErrStale},
		{"future", signed(testSecret, now.Add(5*time.Minute+time.Second), form), form, ErrStale},
		{"far future", signed(testSecret, time.Unix(1<<40, 0), form), form, ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier(testSecret, WithClock(func() time.Time { return now }))
			err := v.Verify(tt.header, []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyWindowFollowsClock(t *testing.T) {
	now := wallNow()
	clock := newTestClock(now)
	v := NewVerifier(testSecret, WithClock(clock.now), WithWindow(time.Minute))

	// Exactly at the edge of the window, both ways, is still fresh.
	if err := v.Verify(signed(testSecret, now.Add(-time.Minute), "a"), []byte("a")); err != nil {
		t.Fatalf("60s old: %v", err)
	}
	if err := v.Verify(signed(testSecret, now.Add(time.Minute), "b"), []byte("b")); err != nil {
		t.Fatalf("60s ahead: %v", err)
	}
	if err := v.Verify(signed(testSecret, now.Add(-time.Minute-time.Second), "c"), []byte("c")); !errors.Is(err, ErrStale) {
		t.Fatalf("61s old: %v, want ErrStale", err)
	}
	if err := v.Verify(signed(testSecret, now.Add(time.Minute+time.Second), "d"), []byte("d")); !errors.Is(err, ErrStale) {
		t.Fatalf("61s ahead: %v, want ErrStale", err)
	}
	// The injected clock decides: two minutes on, a request from "now" is
	// stale although the wall clock would accept it.
	clock.add(2 * time.Minute)
	if err := v.Verify(signed(testSecret, now, "e"), []byte("e")); !errors.Is(err, ErrStale) {
		t.Fatalf("after clock moved: %v, want ErrStale", err)
	}
}

func TestWindowIsCappedAtFiveMinutes(t *testing.T) {
	v := NewVerifier(testSecret, WithWindow(time.Hour))
	if v.window != DefaultWindow {
		t.Fatalf("window = %s, want %s", v.window, DefaultWindow)
	}
}

func TestVerifyReplay(t *testing.T) {
	now := wallNow()
	v := NewVerifier(testSecret, WithClock(func() time.Time { return now }))
	h := signed(testSecret, now, form)
	if err := v.Verify(h, []byte(form)); err != nil {
		t.Fatalf("first: %v", err)
	}
	if err := v.Verify(h, []byte(form)); !errors.Is(err, ErrReplay) {
		t.Fatalf("second: %v, want ErrReplay", err)
	}
	// Hex case doesn't make it a different request.
	upper := h.Clone()
	upper.Set("X-Slack-Signature", "v0="+strings.ToUpper(strings.TrimPrefix(h.Get("X-Slack-Signature"), "v0=")))
	if err := v.Verify(upper, []byte(form)); !errors.Is(err, ErrReplay) {
		t.Fatalf("upper-case copy: %v, want ErrReplay", err)
	}
	// A request that fails verification is not remembered.
	other := signed(testSecret, now, "other")
	if err := v.Verify(other, []byte("tampered")); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
	if err := v.Verify(other, []byte("other")); err != nil {
		t.Fatalf("genuine after tampered: %v", err)
	}
}

func TestReplayCacheExpires(t *testing.T) {
	now := wallNow()
	clock := newTestClock(now)
	v := NewVerifier(testSecret, WithClock(clock.now), WithWindow(time.Minute))
	for i := range 3 {
		body := fmt.Sprint("old", i)
		if err := v.Verify(signed(testSecret, now, body), []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if got := v.cached(); got != 3 {
		t.Fatalf("cached = %d, want 3", got)
	}
	// Once the window has passed, old entries go as new ones arrive.
	clock.add(2 * time.Minute)
	if err := v.Verify(signed(testSecret, clock.now(), "new"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got := v.cached(); got != 1 {
		t.Fatalf("cached after window = %d, want 1", got)
	}
}

func TestReplayCacheIsBounded(t *testing.T) {
	now := wallNow()
	v := NewVerifier(testSecret, WithClock(func() time.Time { return now }), WithReplayCacheSize(3))
	var hs []http.Header
	for i := range 10 {
		body := fmt.Sprint("req", i)
		h := signed(testSecret, now, body)
		hs = append(hs, h)
		if err := v.Verify(h, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if got := v.cached(); got > 3 {
			t.Fatalf("after %d requests cached = %d, want <= 3", i+1, got)
		}
	}
	if len(v.order) > 2*3+1 {
		t.Fatalf("eviction queue holds %d entries", len(v.order))
	}
	// The newest are still refused; the oldest were evicted.
	if err := v.Verify(hs[9], []byte("req9")); !errors.Is(err, ErrReplay) {
		t.Fatalf("newest again: %v, want ErrReplay", err)
	}
	if err := v.Verify(hs[0], []byte("req0")); err != nil {
		t.Fatalf("evicted oldest: %v", err)
	}
}

func TestVerifyBodyLimit(t *testing.T) {
	now := wallNow()
	v := NewVerifier(testSecret, WithClock(func() time.Time { return now }), WithMaxBodyBytes(16))
	body := strings.Repeat("x", 17)
	if err := v.Verify(signed(testSecret, now, body), []byte(body)); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("Verify = %v, want ErrBodyTooLarge", err)
	}
}

func TestVerifyWithoutSecret(t *testing.T) {
	v := NewVerifier("")
	if err := v.Verify(signed("", wallNow(), form), []byte(form)); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("Verify = %v, want ErrNotConfigured", err)
	}
	rec := httptest.NewRecorder()
	v.Middleware(okHandler(t, ""), nil).ServeHTTP(rec, request(signed("", wallNow(), form), form))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
}

func request(h http.Header, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	r.Header = h.Clone()
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// okHandler answers 200 after checking it sees want as the body.
func okHandler(t *testing.T, want string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := io.ReadAll(r.Body)
		if err != nil || string(got) != want {
			t.Errorf("next got body %q (%v), want %q", got, err, want)
		}
		if r.ContentLength != int64(len(want)) {
			t.Errorf("next got ContentLength %d, want %d", r.ContentLength, len(want))
		}
		w.WriteHeader(http.StatusOK)
	})
}

func TestMiddleware(t *testing.T) {
	now := wallNow()
	v := NewVerifier(testSecret, WithClock(func() time.Time { return now }), WithMaxBodyBytes(128))
	h := v.Middleware(okHandler(t, form), nil)
	serve := func(r *http.Request) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}

	good := signed(testSecret, now, form)
	if got := serve(request(good, form)); got != http.StatusOK {
		t.Fatalf("valid: %d, want 200", got)
	}
	if got := serve(request(good, form)); got != http.StatusUnauthorized {
		t.Fatalf("replay: %d, want 401", got)
	}
	if got := serve(request(http.Header{}, form)); got != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d, want 401", got)
	}
	if got := serve(request(signed(testSecret, now, "a=1"), "a=2")); got != http.StatusUnauthorized {
		t.Fatalf("tampered: %d, want 401", got)
	}

	big := strings.Repeat("x", 129)
	if got := serve(request(signed(testSecret, now, big), big)); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the limit: %d, want 413", got)
	}
	// Without Content-Length the limit still holds while reading.
	r := request(signed(testSecret, now, big), big)
	r.ContentLength = -1
	if got := serve(r); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the limit, chunked: %d, want 413", got)
	}
	exact := strings.Repeat("y", 128)
	v2 := NewVerifier(testSecret, WithClock(func() time.Time { return now }), WithMaxBodyBytes(128))
	rec := httptest.NewRecorder()
	v2.Middleware(okHandler(t, exact), nil).ServeHTTP(rec, request(signed(testSecret, now, exact), exact))
	if rec.Code != http.StatusOK {
		t.Fatalf("at the limit: %d, want 200", rec.Code)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	now := wallNow()
	// Room for every request: an evicted entry could be replayed (see
	// TestReplayCacheIsBounded).
	v := NewVerifier(testSecret, WithClock(func() time.Time { return now }), WithReplayCacheSize(1024))
	shared := signed(testSecret, now, form)
	var accepted, replays atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			// Everyone races for the same request; only one may win.
			switch err := v.Verify(shared, []byte(form)); {
			case err == nil:
				accepted.Add(1)
			case errors.Is(err, ErrReplay):
				replays.Add(1)
			default:
				t.Errorf("shared: %v", err)
			}
			for j := range 20 {
				body := fmt.Sprintf("g%d-%d", i, j)
				if err := v.Verify(signed(testSecret, now, body), []byte(body)); err != nil {
					t.Errorf("own request: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if accepted.Load() != 1 || replays.Load() != 31 {
		t.Fatalf("accepted %d, replays %d; want 1 and 31", accepted.Load(), replays.Load())
	}
	if got := v.cached(); got != 32*20+1 {
		t.Fatalf("cached = %d, want %d", got, 32*20+1)
	}

	// Eviction under contention keeps the bound.
	small := NewVerifier(testSecret, WithClock(func() time.Time { return now }), WithReplayCacheSize(8))
	for i := range 16 {
		wg.Go(func() {
			for j := range 20 {
				body := fmt.Sprintf("s%d-%d", i, j)
				if err := small.Verify(signed(testSecret, now, body), []byte(body)); err != nil {
					t.Errorf("small cache: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if got := small.cached(); got != 8 {
		t.Fatalf("small cache holds %d, want 8", got)
	}
}

// TestLogsNeverLeak plants a secret and a body marker and checks that no
// failure path writes either (or the signature) to the log or the reply.
func TestLogsNeverLeak(t *testing.T) {
	const secret = config.Secret("CANARY-SECRET-d1c3b6f0")
	const marker = "CANARY-BODY-77aa21"
	now := wallNow()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v := NewVerifier(secret, WithClock(func() time.Time { return now }), WithMaxBodyBytes(256))
	h := v.Middleware(okHandler(t, "text="+marker), log)

	body := "text=" + marker
	good := signed(secret, now, body)
	var sigs []string
	cases := []struct {
		name string
		r    *http.Request
		code int
	}{
		{"valid", request(good, body), http.StatusOK},
		{"replay", request(good, body), http.StatusUnauthorized},
		{"bad signature", request(signed("not-the-secret", now, body), body), http.StatusUnauthorized},
		{"tampered", request(good, body+"x"), http.StatusUnauthorized},
		{"stale", request(signed(secret, now.Add(-time.Hour), body), body), http.StatusUnauthorized},
		{"missing headers", request(http.Header{}, body), http.StatusUnauthorized},
		{"too large", request(signed(secret, now, body+strings.Repeat(marker, 20)), body+strings.Repeat(marker, 20)), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		sigs = append(sigs, strings.TrimPrefix(c.r.Header.Get("X-Slack-Signature"), "v0="))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, c.r)
		if rec.Code != c.code {
			t.Errorf("%s: status %d, want %d", c.name, rec.Code, c.code)
		}
		if reply := rec.Body.String(); strings.Contains(reply, marker) || strings.Contains(reply, secret.Reveal()) {
			t.Errorf("%s: reply leaks: %q", c.name, reply)
		}
	}

	out := logs.String()
	if n := strings.Count(out, "slack request rejected"); n != len(cases)-1 {
		t.Errorf("logged %d rejections, want %d:\n%s", n, len(cases)-1, out)
	}
	for _, want := range []string{`"method":"POST"`, `"path":"/slack/commands"`, `"remote_addr":"192.0.2.1:1234"`, "replayed slack request", "bad slack request signature", "stale slack request timestamp", "too large"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, leak := range append([]string{secret.Reveal(), marker}, sigs...) {
		if leak != "" && strings.Contains(out, leak) {
			t.Errorf("log contains %q:\n%s", leak, out)
		}
	}
}
