// The Node.js benchmark (scripts/bench-node): Signer.signUrl against @aws-sdk/cloudfront-signer's
// getSignedUrl and against node:crypto with a pre-parsed KeyObject (the limit inside Node), for
// RSA-2048 and ECDSA P-256 (SHA-1, CloudFront's default), and signUrls on 2 threads against 1.
// Prints the medians of several rounds and the ratios next to the targets of issue 11.
import crypto from 'node:crypto'
import { createRequire } from 'node:module'
import os from 'node:os'

const require = createRequire(import.meta.url)
const { Signer } = require('../index.js')
const aws = require('@aws-sdk/cloudfront-signer')

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9)
const CALLS = Number(process.env.BENCH_CALLS ?? 1000)
const BULK = Number(process.env.BENCH_BULK ?? 20000)
const KEY_ID = 'K2JCJMDEHXQW5F'
const expires = new Date('2031-01-01T00:00:00Z')
const epoch = Math.round(expires.getTime() / 1000)
const urls = Array.from({ length: CALLS }, (_, n) => `https://d111111abcdef8.cloudfront.net/videos/${n}/segment-${n}.ts?v=2`)

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** Median microseconds per call of `f(url)` over ROUNDS rounds of CALLS calls (after a warm-up). */
function perCall(f) {
  for (const u of urls.slice(0, 50)) f(u)
  const rounds = []
  for (let r = 0; r < ROUNDS; r++) {
    const t = process.hrtime.bigint()
    for (const u of urls) f(u)
    rounds.push(Number(process.hrtime.bigint() - t) / 1e3 / urls.length)
  }
  return median(rounds)
}

/** The canned-policy URL with node:crypto and a KeyObject parsed once: nothing but the work. */
function nodeCryptoSigner(keyObject) {
  return (u) => {
    const policy = `{"Statement":[{"Resource":"${u}","Condition":{"DateLessThan":{"AWS:EpochTime":${epoch}}}}]}`
    const sig = crypto.sign('sha1', Buffer.from(policy), keyObject).toString('base64').replace(/[+=/]/g, (c) => ({ '+': '-', '=': '_', '/': '~' })[c])
    return `${u}&Expires=${epoch}&Signature=${sig}&Key-Pair-Id=${KEY_ID}`
  }
}

const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
const rsaPem = rsa.export({ type: 'pkcs1', format: 'pem' })
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
const ecPem = ec.export({ type: 'pkcs8', format: 'pem' })

const options = { expires }
const rows = []
const line = (name, us) => {
  rows.push([name, us])
  console.log(`${name.padEnd(58)} ${us.toFixed(1).padStart(8)} us/URL ${Math.round(1e6 / us).toString().padStart(8)} URLs/s`)
}

console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${ROUNDS} rounds of ${CALLS} URLs, medians`)
const rsaSigner = new Signer({ keyPairId: KEY_ID, privateKey: rsaPem })
const ecSigner = new Signer({ keyPairId: KEY_ID, privateKey: ecPem })
// The same signature from all three (RSA PKCS#1 v1.5 is deterministic); the AWS package puts
// Key-Pair-Id before Signature.
const probe = urls[0]
const signature = (u) => /Signature=([^&]+)/.exec(u)[1]
const same = rsaSigner.signUrl(probe, options)
const theirs = aws.getSignedUrl({ url: probe, keyPairId: KEY_ID, privateKey: rsaPem, dateLessThan: expires })
if (same !== nodeCryptoSigner(rsa)(probe) || signature(same) !== signature(theirs)) {
  throw new Error('the three RSA signers disagree; the comparison would be meaningless')
}

const ours = line('RSA-2048  Signer.signUrl', perCall((u) => rsaSigner.signUrl(u, options)))
const awsUs = perCall((u) => aws.getSignedUrl({ url: u, keyPairId: KEY_ID, privateKey: rsaPem, dateLessThan: expires }))
line('RSA-2048  @aws-sdk/cloudfront-signer getSignedUrl', awsUs)
const nodeRsa = perCall(nodeCryptoSigner(rsa))
line('RSA-2048  node:crypto, KeyObject parsed once', nodeRsa)
const ecUs = perCall((u) => ecSigner.signUrl(u, options))
line('ECDSA P-256  Signer.signUrl', ecUs)
const nodeEc = perCall(nodeCryptoSigner(ec))
line('ECDSA P-256  node:crypto, KeyObject parsed once', nodeEc)

const bulk = Array.from({ length: BULK }, (_, n) => `https://d111111abcdef8.cloudfront.net/hls/${n}.ts`)
async function bulkMs(threads) {
  await rsaSigner.signUrls(bulk.slice(0, 200), { ...options, threads })
  const runs = []
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint()
    const out = await rsaSigner.signUrls(bulk, { ...options, threads })
    runs.push(Number(process.hrtime.bigint() - t) / 1e6)
    if (out.length !== bulk.length) throw new Error('signUrls lost URLs')
  }
  return median(runs)
}
const one = await bulkMs(1)
const two = await bulkMs(2)
console.log(`RSA-2048  signUrls, ${BULK} URLs, 1 thread ${one.toFixed(0)} ms (${Math.round(BULK / one * 1000)} URLs/s), 2 threads ${two.toFixed(0)} ms (${Math.round(BULK / two * 1000)} URLs/s)`)

const ratios = [
  ['Signer.signUrl / @aws-sdk/cloudfront-signer, RSA-2048 (speed-up)', awsUs / rows[0][1], 3],
  ['Signer.signUrl / node:crypto with a KeyObject, RSA-2048', nodeRsa / rows[0][1], 0.9],
  ['Signer.signUrl / node:crypto with a KeyObject, ECDSA P-256', nodeEc / ecUs, 0.9],
  ['signUrls 2 threads / 1 thread, RSA-2048', one / two, 1.8],
]
console.log('\nratios (throughput of the first over the second; target from issue 11)')
for (const [name, ratio, target] of ratios) {
  console.log(`${name.padEnd(66)} ${ratio.toFixed(2).padStart(6)}   target >= ${target}  ${ratio >= target ? 'met' : 'NOT met'}`)
}
void ours
