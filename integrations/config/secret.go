package config

import (
	"fmt"
	"log/slog"
)

// Secret holds a credential. Every way of printing it (fmt verbs, slog,
// JSON, YAML, text marshalling) yields "[redacted]"; only Reveal returns
// the value, so a leak has to be written on purpose.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value for handing to an SDK.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a value was configured.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return `"` + redacted + `"` }

// Format covers every fmt verb, including %x and %q that would otherwise
// reach the underlying string.
func (s Secret) Format(f fmt.State, verb rune) { _, _ = fmt.Fprint(f, redacted) }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText is used by encoding/json, YAML encoders and slog's JSON handler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
