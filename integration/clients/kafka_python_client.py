"""kafka-python (Debian's python3-kafka 2.0.2) against mqlog's Kafka front end.

Usage: kafka_python_client.py ADDR TOPIC N

Produces N messages (acks=all) in two halves a second apart, consumes them from the earliest offset
without a group, and looks up the offset of the second half by time. Prints one line per row of the
client matrix: "ROW PASS detail" or "ROW FAIL detail". kafka-python 2.0.2 has no idempotent producer.
"""
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def main():
    addr, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    producer = KafkaProducer(bootstrap_servers=addr, acks="all", linger_ms=5)
    middle = None
    for i in range(n):
        if i == n // 2:
            producer.flush()
            time.sleep(1)
            middle = int(time.time() * 1000)
        producer.send(topic, value=b"m%d" % i, partition=0).get(timeout=30)
    producer.flush()
    producer.close()
    print("produce PASS %d messages, acks=all" % n)

    tp = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=addr, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=10000)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    values = []
    for msg in consumer:
        values.append(msg.value.decode())
        if len(values) == n:
            break
    want = ["m%d" % i for i in range(n)]
    if values == want:
        print("consume-earliest PASS %d messages in order" % n)
    else:
        print("consume-earliest FAIL got %d messages, first %s" % (len(values), values[:3]))

    found = consumer.offsets_for_times({tp: middle})[tp]
    if found is not None and found.offset == n // 2:
        print("listoffsets-time PASS offset %d for the second half's time" % found.offset)
    else:
        print("listoffsets-time FAIL %s, want offset %d" % (found, n // 2))
    consumer.close()


if __name__ == "__main__":
    main()
