package temporal

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-ir/firebreak/integrations/config"
)

// writeCert writes a self-signed certificate and key, as an mTLS client would have.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "firebreak-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestOptions(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	cert, key := writeCert(t, dir)

	plain, err := Options(config.Temporal{Namespace: "ns"}, log, nil)
	if err != nil || plain.HostPort != DefaultAddress || plain.ConnectionOptions.TLS != nil || plain.Credentials != nil {
		t.Fatalf("plain: %+v %v", plain, err)
	}

	mtls, err := Options(config.Temporal{Address: "t:7233", TLS: config.TemporalTLS{Enabled: true, CertFile: cert, KeyFile: key, CAFile: cert, ServerName: "t"}}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tc := mtls.ConnectionOptions.TLS; tc == nil || len(tc.Certificates) != 1 || tc.RootCAs == nil || tc.ServerName != "t" {
		t.Fatalf("mtls: %+v", tc)
	}

	apiKey, err := Options(config.Temporal{Address: "ns.tmprl.cloud:7233", APIKey: "k"}, log, nil)
	if err != nil || apiKey.ConnectionOptions.TLS == nil || apiKey.Credentials == nil {
		t.Fatalf("api key must imply TLS and set credentials: %+v %v", apiKey, err)
	}

	for name, tc := range map[string]struct {
		cfg  config.TemporalTLS
		want string
	}{
		"missing cert": {config.TemporalTLS{Enabled: true, CertFile: filepath.Join(dir, "absent.pem"), KeyFile: key}, "load temporal client certificate"},
		"cert as key":  {config.TemporalTLS{Enabled: true, CertFile: cert, KeyFile: cert}, "load temporal client certificate"},
		"missing ca":   {config.TemporalTLS{Enabled: true, CAFile: filepath.Join(dir, "absent-ca.pem")}, "read temporal CA"},
		"ca not pem":   {config.TemporalTLS{Enabled: true, CAFile: writeText(t, dir, "junk")}, "no PEM certificates"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Options(config.Temporal{TLS: tc.cfg}, log, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func writeText(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
