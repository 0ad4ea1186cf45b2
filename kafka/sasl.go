package kafka

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/xdg-go/scram"
)

// SASL mechanisms the server offers.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
)

// scramIterations is the PBKDF2 iteration count of the SCRAM credentials derived from the users file
// (Kafka's minimum is 4096).
const scramIterations = 4096

// SASL requires clients to authenticate (Kafka's SASL_PLAINTEXT, or SASL_SSL with Options.TLS) as one of
// Users, with PLAIN or SCRAM-SHA-256. Serve it over TLS: PLAIN sends the password as it is.
type SASL struct {
	// Mechanisms are the mechanisms offered; empty means PLAIN and SCRAM-SHA-256.
	Mechanisms []string
	// Users maps each user name to its password (LoadUsers reads them from a file).
	Users map[string]string

	scramServer *scram.Server
}

// check validates the config and derives the SCRAM credentials (a random salt per user per start).
func (s *SASL) check() error {
	if len(s.Mechanisms) == 0 {
		s.Mechanisms = []string{MechanismPlain, MechanismScramSHA256}
	}
	for _, m := range s.Mechanisms {
		if m != MechanismPlain && m != MechanismScramSHA256 {
			return fmt.Errorf("mqlog/kafka: SASL mechanism %q not supported (%s, %s)", m, MechanismPlain, MechanismScramSHA256)
		}
	}
	if len(s.Users) == 0 {
		return errors.New("mqlog/kafka: SASL without users")
	}
	creds := make(map[string]scram.StoredCredentials, len(s.Users))
	for name, password := range s.Users {
		client, err := scram.SHA256.NewClient(name, password, "")
		if err != nil {
			return fmt.Errorf("mqlog/kafka: user %q: %w", name, err)
		}
		salt := make([]byte, 16)
		rand.Read(salt)
		creds[name] = client.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: scramIterations})
	}
	server, err := scram.SHA256.NewServer(func(name string) (scram.StoredCredentials, error) {
		c, ok := creds[name]
		if !ok {
			return scram.StoredCredentials{}, fmt.Errorf("unknown user %q", name)
		}
		return c, nil
	})
	if err != nil {
		return err
	}
	s.scramServer = server
	return nil
}

func (s *SASL) offers(mechanism string) bool { return slices.Contains(s.Mechanisms, mechanism) }

// LoadUsers reads a users file: one user a line, "name:password" (the password runs to the end of the
// line), blank lines and lines starting with # ignored. The file should be readable by its owner only.
func LoadUsers(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mqlog/kafka: users file: %w", err)
	}
	users := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		name, password, ok := strings.Cut(line, ":")
		if !ok || name == "" || password == "" {
			return nil, fmt.Errorf("mqlog/kafka: users file %s line %d: want name:password", path, n)
		}
		if _, dup := users[name]; dup {
			return nil, fmt.Errorf("mqlog/kafka: users file %s line %d: user %q twice", path, n, name)
		}
		users[name] = password
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("mqlog/kafka: users file %s has no users", path)
	}
	return users, nil
}

// saslSession is one connection's authentication, owned by its reader goroutine.
type saslSession struct {
	mechanism     string // chosen by SaslHandshake; "" before it
	rawTokens     bool   // SaslHandshake v0: the tokens follow as bare size-prefixed frames
	scram         *scram.ServerConversation
	authenticated bool
	user          string
}

// errAuthFailed is a failed authentication: the client is told, and the connection closed.
var errAuthFailed = errors.New("authentication failed")

// step takes one token from the client and returns the server's answer; done says the authentication
// succeeded with it.
func (s *saslSession) step(cfg *SASL, token []byte) (answer []byte, done bool, err error) {
	switch s.mechanism {
	case MechanismPlain:
		// authzid NUL authcid NUL password (RFC 4616)
		parts := bytes.Split(token, []byte{0})
		if len(parts) != 3 {
			return nil, false, fmt.Errorf("%w: malformed PLAIN token", errAuthFailed)
		}
		name, password := string(parts[1]), parts[2]
		want, ok := cfg.Users[name]
		if !ok || subtle.ConstantTimeCompare([]byte(want), password) != 1 || len(parts[0]) > 0 && string(parts[0]) != name {
			return nil, false, fmt.Errorf("%w: user %q", errAuthFailed, name)
		}
		s.authenticated, s.user = true, name
		return []byte{}, true, nil
	case MechanismScramSHA256:
		if s.scram == nil {
			s.scram = cfg.scramServer.NewConversation()
		}
		answer, err := s.scram.Step(string(token))
		if err != nil {
			return nil, false, fmt.Errorf("%w: SCRAM: %v", errAuthFailed, err)
		}
		if s.scram.Done() {
			if !s.scram.Valid() {
				return nil, false, fmt.Errorf("%w: SCRAM user %q", errAuthFailed, s.scram.Username())
			}
			s.authenticated, s.user = true, s.scram.Username()
			return []byte(answer), true, nil
		}
		return []byte(answer), false, nil
	}
	return nil, false, fmt.Errorf("%w: no SaslHandshake before the token", errAuthFailed)
}
