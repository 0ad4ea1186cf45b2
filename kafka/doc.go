// Package kafka serves a DB to Kafka clients: the Kafka wire protocol in front of the engine, a
// single-node broker that is leader of every partition. It sits above the root package (it imports mqlog
// and never the reverse); `mqlog serve` runs it, and an application that embeds a DB exposes it with
// Serve(ctx, db, listener) or NewServer(db, opts).Serve.
//
// Every request and response is decoded and encoded by github.com/twmb/franz-go/pkg/kmsg; request
// headers are read with franz-go's kbin and error codes come from its kerr. Produce appends the batches
// as the clients encoded them (validated first, so that no client can write what a reader would take for
// corruption; base offset and partition leader epoch assigned by the log) through the same group commit
// as embedded producers; Fetch serves the stored RecordBatch bytes as they are.
//
// # API keys
//
//	key  name             versions  notes
//	0    Produce          3-13      acks 0, 1, all (1 and all: durable, as on one node they are the same);
//	                                idempotent producers (sequence checks, retries answered with the
//	                                original offset); no transactions
//	1    Fetch            4-18      long poll (MaxWaitMillis, MinBytes) woken by the high watermark; no
//	                                fetch sessions (every response has session id 0)
//	2    ListOffsets      0-11      earliest, latest, max timestamp, by timestamp
//	3    Metadata         0-13      this node leads every partition; leader epochs -1; topics created on
//	                                first use unless Options.NoAutoCreateTopics
//	10   FindCoordinator  0-6       this node for groups; no transaction coordinator
//	17   SaslHandshake    0-1       with Options.SASL (v0: the tokens follow without Kafka framing)
//	18   ApiVersions      0-4       Kafka's downgrade for newer versions
//	19   CreateTopics     0-7       replication factor 1; a few topic configs
//	20   DeleteTopics     0-6
//	22   InitProducerId   0-5       idempotent producers; a transactional id is refused
//	36   SaslAuthenticate 0-2       PLAIN, SCRAM-SHA-256
//
// Version ranges start where Kafka 4's do (Produce 3 and Fetch 4: earlier versions carry the v0/v1
// message formats, which mqlog does not store). A version the server has not, of a key it serves, is
// answered with that key's response carrying UNSUPPORTED_VERSION; a key kmsg knows but the server does
// not serve (the consumer group keys, until the group coordinator is wired in) with its response and
// UNSUPPORTED_VERSION in its top-level error; a version or key nobody can parse, and an ApiVersions
// version above 4, in the ApiVersions v0 layout with UNSUPPORTED_VERSION and the supported ranges. The
// connection stays open in every case.
//
// Topic ids (Metadata v10+, Fetch v13+, Produce v13) are derived from each topic's name and incarnation,
// so they survive restarts and a topic created again under its name gets a new one.
//
// # Connections
//
// Each connection has one reader goroutine; each request is handled in a goroutine of its own, and the
// responses go out in request order (a handler that finishes first in line writes its own response and
// those ready behind it). Produce requests of a connection are appended in request order, each starting
// once the one before has its offsets, so that a pipelining idempotent producer's sequences meet the log
// in order while the requests still share group commits.
//
// Limits, each closing the connection with a log line (log/slog) and touching no other connection:
// MaxRequestBytes (a size field over it, negative or below a header), RequestTimeout (a request's bytes
// must all arrive within it once the first has: a client sending a byte a second is closed; and a
// response must be written within it), IdleTimeout (no request for that long), MaxConnections (one more
// is closed on accept). Memory per connection is bounded by ConnectionBytes, the bytes of the requests read
// and not yet answered plus the fetch responses being built, and by MaxInflight requests; a client that
// does not read its responses stops being read, then is closed by the write timeout. Bad input closes
// the connection too: a header that does not parse, a body that does not parse as its key and version
// say, a request before SASL authentication, a failed authentication, and a failed produce with acks 0
// (Kafka's way of telling such a producer).
//
// # Fetch without copies
//
// A fetch reads each partition's stored batches into one buffer (wal.Reader.AppendFrames: the frames after
// the first are read from their segment straight into it, in 512 KiB chunks, and their CRCs checked there)
// and the response goes out without copying them again: kmsg encodes the response with a random
// placeholder in place of each RecordBatches of 16 KiB or more, the placeholders are cut out, and the frame
// is written as net.Buffers (one writev on TCP) of kmsg's bytes, the length prefixes kbin gives each
// RecordBatches and the stored batches themselves (splice.go; a test checks the pieces against kmsg's own
// encoding for every Fetch version). sendfile was measured and left out: on loopback the kernel copies
// spliced pages anyway, and it gave no less CPU per byte than pread and write (docs/BENCH.md, "Kafka
// protocol").
//
// # Security
//
// Listeners are the caller's (`mqlog serve` listens on loopback unless told otherwise). Options.TLS makes
// every connection TLS (crypto/tls). Options.SASL requires authentication before any request but
// ApiVersions and SaslHandshake, with PLAIN or SCRAM-SHA-256 (github.com/xdg-go/scram's server), users
// and passwords from a file (LoadUsers); over plaintext, PLAIN sends passwords as they are.
//
// # Not here
//
// Consumer groups over the protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
// OffsetFetch, DescribeGroups, ListGroups, DeleteGroups) come with the group coordinator: they slot into
// apiTable. Transactions, fetch sessions, ACLs, quotas, DescribeConfigs and the KRaft and replication
// APIs are not served.
package kafka
