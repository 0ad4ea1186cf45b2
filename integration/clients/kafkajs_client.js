// kafkajs 2.2.4 against mqlog's Kafka front end.
//
// Usage: node kafkajs_client.js plain|idempotent ADDR TOPIC N
//
// plain: produces N messages (acks=all) in two halves a second apart and looks up the second half's
// offset by time (admin.fetchTopicOffsetsByTimestamp). idempotent: produces N messages one at a time with
// an idempotent producer (the broker behind testbroker's fault proxy withholds the first answers, so the
// producer retries batches already written). kafkajs consumes only in a consumer group: that row waits
// for the group coordinator. Prints "ROW PASS detail" or "ROW FAIL detail" lines.
const { Kafka, logLevel } = require('kafkajs')

async function main() {
  const [mode, addr, topic, nText] = process.argv.slice(2)
  const n = Number(nText)
  const kafka = new Kafka({ clientId: 'mqlog-it', brokers: [addr], logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 10 } })
  const producer = kafka.producer(mode === 'idempotent' ? { idempotent: true, maxInFlightRequests: 1 } : {})
  await producer.connect()
  let middle = 0
  for (let i = 0; i < n; i++) {
    if (mode === 'plain' && i === n / 2) {
      await new Promise(r => setTimeout(r, 1000))
      middle = Date.now()
    }
    await producer.send({ topic, acks: -1, messages: [{ value: `m${i}`, partition: 0 }] })
  }
  await producer.disconnect()
  if (mode === 'idempotent') {
    console.log(`idempotent-retry PASS ${n} messages acknowledged (the broker's summary says whether once each)`)
    return
  }
  console.log(`produce PASS ${n} messages, acks=all`)
  const admin = kafka.admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, middle)
  const got = offsets.find(p => p.partition === 0)
  if (got && Number(got.offset) === n / 2) {
    console.log(`listoffsets-time PASS offset ${got.offset} for the second half's time`)
  } else {
    console.log(`listoffsets-time FAIL ${JSON.stringify(offsets)}, want offset ${n / 2}`)
  }
  await admin.disconnect()
}

main().catch(err => { console.log(`error FAIL ${err}`); process.exit(1) })
