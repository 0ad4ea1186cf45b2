// Package integration runs real Kafka clients against mqlog's Kafka front end (package kafka) on
// loopback: franz-go (kgo) and segmentio/kafka-go in-process, in a module of its own so that the main
// module's go.mod stays free of Kafka clients. `make integration` runs these tests and then the clients
// that are not Go (kcat, kafka-python, kafkajs: scripts/integration.sh).
//
// The benchmarks (BenchmarkProduce, BenchmarkFetch, BenchmarkConcurrentProducers) measure the protocol
// against the embedded API in the same run.
package integration
