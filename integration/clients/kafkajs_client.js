// kafkajs 2.2.4 against mqlog's Kafka front end.
//
// Usage: node kafkajs_client.js plain|idempotent|group-first|group-second ADDR TOPIC N
//
// plain: produces N messages (acks=all) in two halves a second apart, looks up the second half's offset
// by time (admin.fetchTopicOffsetsByTimestamp) and consumes them from the earliest offset (kafkajs
// consumes only in a group: a group of its own, fromBeginning). idempotent: produces N messages one at a
// time with an idempotent producer (the broker behind testbroker's fault proxy withholds the first
// answers, so the producer retries batches already written). group-first: consumes the first N/2 messages
// of TOPIC in the group "kafkajs" and commits them; group-second, after the server restarted: consumes in
// the same group and must get exactly the other N/2. Prints "ROW PASS detail" or "ROW FAIL detail" lines.
const { Kafka, logLevel } = require('kafkajs')

// consume reads TOPIC in group from the earliest offset (where the group has no committed offset) until
// done(values) says so, then waits a second more for anything that would come again, commits what it
// read when commit is set, and leaves the group.
async function consume(kafka, group, topic, done, commit) {
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6000, heartbeatInterval: 500,
    maxWaitTimeInMs: 100 })
  const t0 = Date.now()
  const trace = what => { if (process.env.KAFKAJS_TRACE) console.error(`${Date.now() - t0} ms: ${what}`) }
  consumer.on(consumer.events.GROUP_JOIN, () => trace('joined'))
  await consumer.connect()
  trace('connected')
  await consumer.subscribe({ topic, fromBeginning: true })
  const values = []
  let last = null
  let finish
  const finished = new Promise(resolve => { finish = resolve })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (done(values)) return // past what was asked: neither counted nor committed
      values.push(message.value.toString())
      last = { topic, partition, offset: (BigInt(message.offset) + 1n).toString() }
      if (done(values)) finish()
    },
  })
  await Promise.race([finished, new Promise(resolve => setTimeout(resolve, 60000).unref())])
  trace(`done with ${values.length}`)
  await new Promise(resolve => setTimeout(resolve, 1000))
  if (commit && last) await consumer.commitOffsets([last])
  await consumer.disconnect()
  trace('disconnected')
  return values
}

const range = (from, to) => Array.from({ length: to - from }, (_, i) => `m${from + i}`)

async function main() {
  const [mode, addr, topic, nText] = process.argv.slice(2)
  const n = Number(nText)
  const kafka = new Kafka({ clientId: 'mqlog-it', brokers: [addr], logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 10 } })
  if (mode === 'group-first') {
    const values = await consume(kafka, 'kafkajs', topic, v => v.length >= n / 2, true)
    const admin = kafka.admin()
    await admin.connect()
    const offsets = await admin.fetchOffsets({ groupId: 'kafkajs', topics: [topic] })
    await admin.disconnect()
    const committed = offsets[0].partitions.find(p => p.partition === 0).offset
    if (JSON.stringify(values.slice(0, n / 2)) === JSON.stringify(range(0, n / 2)) && Number(committed) === values.length) {
      console.log(`group-commit PASS ${values.length} messages consumed in a group, offset ${committed} committed`)
    } else {
      console.log(`group-commit FAIL got ${values.length} (${values.slice(0, 3)}), committed ${committed}`)
    }
    return
  }
  if (mode === 'group-second') {
    const values = await consume(kafka, 'kafkajs', topic, v => v.length > 0 && v[v.length - 1] === `m${n - 1}`, false)
    if (JSON.stringify(values) === JSON.stringify(range(n / 2, n))) {
      console.log(`restart-keeps-position PASS the group went on at offset ${n / 2} after the restart`)
    } else {
      console.log(`restart-keeps-position FAIL got ${values.length} messages from ${values[0]}`)
    }
    return
  }
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
  const values = await consume(kafka, 'kafkajs-earliest', topic, v => v.length >= n, false)
  if (JSON.stringify(values) === JSON.stringify(range(0, n))) {
    console.log(`consume-earliest PASS ${n} messages in order (in a group, fromBeginning)`)
  } else {
    console.log(`consume-earliest FAIL got ${values.length} messages, first ${values.slice(0, 3)}`)
  }
}

main().catch(err => { console.log(`error FAIL ${err}`); process.exit(1) })
