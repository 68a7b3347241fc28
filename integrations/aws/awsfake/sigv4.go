package awsfake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var (
	signedHeadersRe = regexp.MustCompile(`SignedHeaders=([^,\s]+)`)
	signatureRe     = regexp.MustCompile(`Signature=([0-9a-f]+)`)
)

// signatureValid re-signs the request with the secret the fake issued for its key, over the
// headers the client said it signed, and compares signatures as AWS does. So a call made with the
// wrong secret, or with credentials the SDK did not actually use, is refused.
func signatureValid(hr *http.Request, body []byte, service, region string, k key) bool {
	auth := hr.Header.Get("Authorization")
	sh, sig := signedHeadersRe.FindStringSubmatch(auth), signatureRe.FindStringSubmatch(auth)
	when, err := time.Parse("20060102T150405Z", hr.Header.Get("X-Amz-Date"))
	if sh == nil || sig == nil || err != nil {
		return false
	}
	re, err := http.NewRequestWithContext(context.Background(), hr.Method, "http://"+hr.Host+hr.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return false
	}
	for _, h := range strings.Split(sh[1], ";") {
		if h == "host" || h == "content-length" {
			continue // from the URL and the body
		}
		re.Header[http.CanonicalHeaderKey(h)] = hr.Header.Values(h)
	}
	sum := sha256.Sum256(body)
	creds := awssdk.Credentials{AccessKeyID: accessKeyOf(auth), SecretAccessKey: k.secret, SessionToken: k.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, hex.EncodeToString(sum[:]), service, region, when); err != nil {
		return false
	}
	want := signatureRe.FindStringSubmatch(re.Header.Get("Authorization"))
	return want != nil && subtle.ConstantTimeCompare([]byte(want[1]), []byte(sig[1])) == 1
}

func accessKeyOf(auth string) string {
	if m := credentialRe.FindStringSubmatch(auth); m != nil {
		return m[1]
	}
	return ""
}
