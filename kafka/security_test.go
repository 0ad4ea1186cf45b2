package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/xdg-go/scram"
)

var testUsers = map[string]string{"alice": "secret", "bob": "hunter2"}

func saslServer(t *testing.T) *testServer {
	return startServer(t, &Options{SASL: &SASL{Users: testUsers}})
}

func handshake(t *testing.T, c *client, version int16, mechanism string) *kmsg.SASLHandshakeResponse {
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version, req.Mechanism = version, mechanism
	return c.do(req).(*kmsg.SASLHandshakeResponse)
}

func authenticate(t *testing.T, c *client, token []byte) *kmsg.SASLAuthenticateResponse {
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version, req.SASLAuthBytes = 2, token
	return c.do(req).(*kmsg.SASLAuthenticateResponse)
}

func plainToken(user, password string) []byte { return []byte("\x00" + user + "\x00" + password) }

func TestSASLPlain(t *testing.T) {
	ts := saslServer(t)
	c := dial(t, ts.addr)
	c.do(kmsg.NewPtrApiVersionsRequest()) // allowed before authentication
	if r := handshake(t, c, 1, "GSSAPI"); r.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(r.SupportedMechanisms) != 2 {
		t.Fatalf("unknown mechanism: %+v", r)
	}
	if r := handshake(t, c, 1, MechanismPlain); r.ErrorCode != 0 {
		t.Fatalf("handshake: %+v", r)
	}
	if r := authenticate(t, c, plainToken("alice", "secret")); r.ErrorCode != 0 {
		t.Fatalf("authenticate: %+v", r)
	}
	if r := c.do(kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse); len(r.Brokers) != 1 {
		t.Fatalf("metadata after authentication: %+v", r)
	}

	bad := dial(t, ts.addr)
	handshake(t, bad, 1, MechanismPlain)
	if r := authenticate(t, bad, plainToken("alice", "wrong")); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("wrong password: %+v", r)
	}
	if !bad.closed() {
		t.Fatal("the connection stayed open after a failed authentication")
	}
	ts.log.waitLog(t, "SASL authentication failed")

	early := dial(t, ts.addr)
	early.send(kmsg.NewPtrMetadataRequest())
	if !early.closed() {
		t.Fatal("a request before authentication was served")
	}
	ts.log.waitLog(t, "request before SASL authentication")
}

// TestSASLPlainRawTokens is SaslHandshake v0 (kafka-python 2.0.2): the token follows as a bare frame.
func TestSASLPlainRawTokens(t *testing.T) {
	ts := saslServer(t)
	c := dial(t, ts.addr)
	if r := handshake(t, c, 0, MechanismPlain); r.ErrorCode != 0 {
		t.Fatalf("handshake v0: %+v", r)
	}
	token := plainToken("bob", "hunter2")
	c.nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(token))), token...))
	if answer, err := c.readFrame(); err != nil || len(answer) != 0 {
		t.Fatalf("answer to the raw token: %q, %v", answer, err)
	}
	if r := c.do(kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse); len(r.Brokers) != 1 {
		t.Fatalf("metadata after raw authentication: %+v", r)
	}
}

func TestSASLScram(t *testing.T) {
	ts := saslServer(t)
	for _, tc := range []struct {
		password string
		ok       bool
	}{{"secret", true}, {"wrong", false}} {
		c := dial(t, ts.addr)
		if r := handshake(t, c, 1, MechanismScramSHA256); r.ErrorCode != 0 {
			t.Fatalf("handshake: %+v", r)
		}
		sc, err := scram.SHA256.NewClient("alice", tc.password, "")
		if err != nil {
			t.Fatal(err)
		}
		conv := sc.NewConversation()
		first, _ := conv.Step("")
		r := authenticate(t, c, []byte(first))
		if r.ErrorCode != 0 {
			t.Fatalf("client-first: %+v", r)
		}
		final, err := conv.Step(string(r.SASLAuthBytes))
		if err != nil {
			t.Fatal(err)
		}
		r = authenticate(t, c, []byte(final))
		if !tc.ok {
			if r.ErrorCode != kerr.SaslAuthenticationFailed.Code || !c.closed() {
				t.Fatalf("wrong password: %+v", r)
			}
			continue
		}
		if r.ErrorCode != 0 {
			t.Fatalf("client-final: %+v", r)
		}
		if _, err := conv.Step(string(r.SASLAuthBytes)); err != nil || !conv.Valid() {
			t.Fatalf("server-final does not verify: %v", err)
		}
		if r := c.do(kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse); len(r.Brokers) != 1 {
			t.Fatalf("metadata after SCRAM: %+v", r)
		}
	}
}

func TestLoadUsers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	os.WriteFile(path, []byte("# users\nalice:se:cret\n\nbob:pw\n"), 0o600)
	users, err := LoadUsers(path)
	if err != nil || users["alice"] != "se:cret" || users["bob"] != "pw" || len(users) != 2 {
		t.Fatalf("%v, %v", users, err)
	}
	for _, bad := range []string{"alice\n", ":pw\n", "a:b\na:c\n", "# nobody\n"} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := LoadUsers(path); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// selfSigned returns a TLS certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mqlog test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ts := startServer(t, &Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, RequestTimeout: time.Second})
	tc, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, nc: tc, f: kmsg.NewRequestFormatter()}
	defer tc.Close()
	if r := c.do(kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse); len(r.Brokers) != 1 {
		t.Fatalf("metadata over TLS: %+v", r)
	}
	// A plaintext client on the TLS listener: the handshake fails, the connection closes, a line is logged.
	plain := dial(t, ts.addr)
	plain.send(kmsg.NewPtrApiVersionsRequest())
	if !plain.closed() {
		t.Fatal("a plaintext client was served on a TLS listener")
	}
	ts.log.waitLog(t, "TLS handshake failed")
}
