package kafka

import (
	"context"
	"reflect"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// API keys served.
const (
	produceKey          int16 = 0
	fetchKey            int16 = 1
	listOffsetsKey      int16 = 2
	metadataKey         int16 = 3
	findCoordinatorKey  int16 = 10
	saslHandshakeKey    int16 = 17
	apiVersionsKey      int16 = 18
	createTopicsKey     int16 = 19
	deleteTopicsKey     int16 = 20
	initProducerIDKey   int16 = 22
	saslAuthenticateKey int16 = 36
)

var unsupportedVersion = kerr.UnsupportedVersion.Code

// api is one served API key: its version range and its handler.
type api struct {
	min, max int16
	// handle answers a parsed request. A nil response with a nil error writes nothing (a produce with
	// acks 0); an error closes the connection after the responses before this one.
	handle func(ctx context.Context, r *request) (kmsg.Response, error)
	// fail builds the response to req with every part of it failed with code (UNSUPPORTED_VERSION for a
	// version outside the range). Nil: the response kind with its top-level ErrorCode set.
	fail func(req kmsg.Request, code int16) kmsg.Response
	// inline runs the handler in the connection's reader, before the next request is read: SASL, whose
	// outcome decides how the next request is read.
	inline bool
}

// apiTable maps each served key to its api; a key not in it is answered with UNSUPPORTED_VERSION.
type apiTable map[int16]api

// newAPITable registers the handlers. Version ranges start where Kafka 4's do (Produce 3: earlier
// versions carry the v0/v1 message formats; Fetch 4 likewise) and end at the newest kmsg knows.
func (s *Server) newAPITable() apiTable {
	t := apiTable{}
	t[apiVersionsKey] = api{min: 0, max: 4, handle: s.apiVersions}
	t[metadataKey] = api{min: 0, max: 13, handle: s.metadata, fail: failMetadata}
	t[produceKey] = api{min: 3, max: 13, handle: s.produce, fail: failProduce}
	t[fetchKey] = api{min: 4, max: 18, handle: s.fetch, fail: failFetch}
	t[listOffsetsKey] = api{min: 0, max: 11, handle: s.listOffsets, fail: failListOffsets}
	t[createTopicsKey] = api{min: 0, max: 7, handle: s.createTopics, fail: failCreateTopics}
	t[deleteTopicsKey] = api{min: 0, max: 6, handle: s.deleteTopics, fail: failDeleteTopics}
	t[initProducerIDKey] = api{min: 0, max: 5, handle: s.initProducerID}
	t[findCoordinatorKey] = api{min: 0, max: 6, handle: s.findCoordinator, fail: failFindCoordinator}
	t[describeConfigsKey] = api{min: 0, max: 4, handle: s.describeConfigs, fail: failDescribeConfigs}
	t[createPartitionsKey] = api{min: 0, max: 3, handle: s.createPartitions, fail: failCreatePartitions}
	t[incrementalAlterConfigsKey] = api{min: 0, max: 1, handle: s.incrementalAlterConfigs, fail: failIncrementalAlterConfigs}
	s.registerGroups(t)      // groups.go
	s.registerAdmin(t)       // admin.go
	s.registerReplication(t) // replication.go: after every key it wraps
	if s.opts.SASL != nil {
		t[saslHandshakeKey] = api{min: 0, max: 1, handle: s.saslHandshake, inline: true}
		t[saslAuthenticateKey] = api{min: 0, max: 2, handle: s.saslAuthenticate, inline: true}
	}
	return t
}

// ranges lists the served keys and versions, by key.
func (t apiTable) ranges() []kmsg.ApiVersionsResponseApiKey {
	var out []kmsg.ApiVersionsResponseApiKey
	for key, a := range t {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, a.min, a.max
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b kmsg.ApiVersionsResponseApiKey) int { return int(a.ApiKey) - int(b.ApiKey) })
	return out
}

// unsupportedVersions is Kafka's answer to a version it cannot parse: ApiVersions v0 with
// UNSUPPORTED_VERSION and the supported ranges, so that the client can pick a version it has.
func (t apiTable) unsupportedVersions() kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = unsupportedVersion
	resp.ApiKeys = t.ranges()
	return resp
}

// errorResponse answers req with code everywhere: through a.fail when the key has one, else with the
// response's top-level ErrorCode (every group coordinator response has one).
func errorResponse(a api, req kmsg.Request, code int16) kmsg.Response {
	if a.fail != nil {
		return a.fail(req, code)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if f := reflect.ValueOf(resp).Elem().FieldByName("ErrorCode"); f.IsValid() && f.Kind() == reflect.Int16 {
		f.SetInt(int64(code))
	}
	return resp
}

func (s *Server) apiVersions(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = s.apis.ranges()
	if req.Version >= 3 && (!validSoftwareName(req.ClientSoftwareName) || !validSoftwareName(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code // as Kafka validates them
	}
	return resp, nil
}

// validSoftwareName is Kafka's rule for ApiVersions' client software name and version:
// [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
func validSoftwareName(s string) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if !alnum(s[i]) && s[i] != '-' && s[i] != '.' {
			return false
		}
	}
	return true
}

// findCoordinator answers that this node coordinates every group. Transactions have no coordinator.
func (s *Server) findCoordinator(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	var err error
	answer := func(keyType int8) (int16, *string) {
		if keyType != 0 {
			return kerr.CoordinatorNotAvailable.Code, errorf("mqlog has no transaction coordinator")
		}
		return 0, nil
	}
	if req.Version < 4 {
		resp.ErrorCode, resp.ErrorMessage = answer(req.CoordinatorType)
		if resp.ErrorCode == 0 {
			resp.NodeID, resp.Host, resp.Port, err = s.coordinator(r) // replication.go
			resp.ErrorCode = s.errorCode(r, "FindCoordinator", err)
		}
		return resp, nil
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		c.ErrorCode, c.ErrorMessage = answer(req.CoordinatorType)
		if c.ErrorCode == 0 {
			c.NodeID, c.Host, c.Port, err = s.coordinator(r) // replication.go
			c.ErrorCode = s.errorCode(r, "FindCoordinator", err)
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp, nil
}

func failFindCoordinator(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	resp.ErrorCode = code
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.ErrorCode = key, code
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp
}

// initProducerID hands out a new idempotent producer id with epoch 0. A transactional id is refused:
// mqlog has no transactions.
func (s *Server) initProducerID(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil
	}
	id, err := s.producerID(r.c.ctx) // replication.go
	if err != nil {
		resp.ErrorCode = s.errorCode(r, "InitProducerId", err)
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id.ID, id.Epoch
	return resp, nil
}

func (s *Server) saslHandshake(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = s.opts.SASL.Mechanisms
	if !s.opts.SASL.offers(req.Mechanism) {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		return resp, nil
	}
	r.c.sasl.mechanism, r.c.sasl.scram = req.Mechanism, nil
	r.c.sasl.rawTokens = req.Version == 0 // v0: the tokens follow without Kafka framing
	return resp, nil
}

func (s *Server) saslAuthenticate(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	answer, done, err := r.c.sasl.step(s.opts.SASL, req.SASLAuthBytes)
	if err != nil {
		r.c.log.Warn("kafka: SASL authentication failed; connection closed", "mechanism", r.c.sasl.mechanism, "err", err)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = errorf("authentication failed")
		r.p.closeAfter = true
		return resp, nil
	}
	if done {
		r.c.log.Debug("kafka: authenticated", "user", r.c.sasl.user, "mechanism", r.c.sasl.mechanism)
	}
	resp.SASLAuthBytes = answer
	return resp, nil
}
