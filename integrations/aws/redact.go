package aws

import (
	"context"
	"fmt"
	"io"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
)

// redactedCredentials wraps a credentials provider so that formatting a config with any verb
// prints no keys. The SDK's CredentialsCache holds the keys it retrieved, and fmt prints its
// contents when a config is formatted with a verb other than %v (%s, %q, %x, ...).
type redactedCredentials struct {
	provider awssdk.CredentialsProvider
}

func redact(p awssdk.CredentialsProvider) awssdk.CredentialsProvider {
	if p == nil {
		return nil
	}
	if _, ok := p.(redactedCredentials); ok {
		return p
	}
	return redactedCredentials{provider: p}
}

func (r redactedCredentials) Retrieve(ctx context.Context) (awssdk.Credentials, error) {
	return r.provider.Retrieve(ctx)
}

// IsCredentialsProvider lets the SDK see through the wrapper (it checks for anonymous credentials
// and for a cache before adding its own).
func (r redactedCredentials) IsCredentialsProvider(target awssdk.CredentialsProvider) bool {
	return awssdk.IsCredentialsProvider(r.provider, target)
}

// ProviderSources keeps the SDK's user-agent note of where credentials came from.
func (r redactedCredentials) ProviderSources() []awssdk.CredentialSource {
	if s, ok := r.provider.(awssdk.CredentialProviderSource); ok {
		return s.ProviderSources()
	}
	return nil
}

// Format prints a placeholder for every verb.
func (redactedCredentials) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[credentials]") }
