"""kafka-python (Debian's python3-kafka 2.0.2) against mqlog's Kafka front end.

Usage: kafka_python_client.py ADDR TOPIC N [plain|group-first|group-second]

plain (the default): produces N messages (acks=all) in two halves a second apart, consumes them from the
earliest offset without a group, and looks up the offset of the second half by time.
group-first: consumes the first N/2 messages of TOPIC (partition 0, N messages produced by plain) in the
group "kafka-python" from the earliest offset and commits them. group-second, after the server restarted:
consumes in the same group and must get exactly the other N/2, from the committed offset on.
Prints one line per row of the client matrix: "ROW PASS detail" or "ROW FAIL detail". kafka-python 2.0.2
has no idempotent producer.
"""
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def group_consumer(addr, topic):
    return KafkaConsumer(topic, bootstrap_servers=addr, group_id="kafka-python", enable_auto_commit=False,
                         auto_offset_reset="earliest", consumer_timeout_ms=60000,
                         session_timeout_ms=6000, heartbeat_interval_ms=500)


def group_first(addr, topic, n):
    consumer = group_consumer(addr, topic)
    values = []
    for msg in consumer:
        values.append(msg.value.decode())
        if len(values) == n // 2:
            break
    consumer.commit()
    committed = consumer.committed(TopicPartition(topic, 0))
    consumer.close()
    want = ["m%d" % i for i in range(n // 2)]
    if values == want and committed == n // 2:
        print("group-commit PASS %d messages consumed in a group, offset %d committed" % (len(values), committed))
    else:
        print("group-commit FAIL got %s, committed %s" % (values[:3], committed))


def group_second(addr, topic, n):
    consumer = group_consumer(addr, topic)
    values = []
    for msg in consumer:
        values.append(msg.value.decode())
        if len(values) == n - n // 2:
            break
    for records in consumer.poll(timeout_ms=1000).values():  # anything more would be a record again
        values.extend(r.value.decode() for r in records)
    consumer.close()
    want = ["m%d" % i for i in range(n // 2, n)]
    if values == want:
        print("restart-keeps-position PASS the group went on at offset %d after the restart" % (n // 2))
    else:
        print("restart-keeps-position FAIL got %d messages, first %s, want %s.." % (len(values), values[:3], want[0]))


def main():
    addr, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    mode = sys.argv[4] if len(sys.argv) > 4 else "plain"
    if mode == "group-first":
        return group_first(addr, topic, n)
    if mode == "group-second":
        return group_second(addr, topic, n)
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
                             auto_offset_reset="earliest", consumer_timeout_ms=60000)
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
