// The @aws-sdk/cloudfront-signer drop-in against the real package (a devDependency pinned in
// package-lock.json): byte-identical URLs and cookies over generated RSA cases, and each
// deliberate difference one by one, with the reason and what CloudFront (the core's verifier)
// decides about both outputs.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import * as aws from '@aws-sdk/cloudfront-signer'
import * as ours from '@cfsign/node'

import { keyFile, nodeVerifyCookies, nodeVerifyUrl, rng, rsaKeyPair } from './helpers.mjs'

const KEYS = [rsaKeyPair(), rsaKeyPair()]
const KEY_ID = 'K2JCJMDEHXQW5F'
const HOSTS = ['https://d111111abcdef8.cloudfront.net', 'http://media.example.com', 'https://cdn.example.org:8443']
// Characters both packages leave as they are: unreserved, plus !()' in paths; percent-escapes in
// upper case that encodeURIComponent(decodeURIComponent(x)) gives back unchanged.
const PATH_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!()'
const QUERY_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~'
const ESCAPES = ['%20', '%C3%A9', '%2F', '%25', '%E6%97%A5']

function word(r, chars, min, max) {
  let s = ''
  const n = r.int(min, max)
  for (let i = 0; i < n; i++) s += r.chance(0.06) ? r.pick(ESCAPES) : chars[r.int(0, chars.length - 1)]
  return s
}

function segment(r) {
  // never '.' or '..' (browsers remove them) and never empty
  let s
  do s = word(r, PATH_CHARS, 1, 12)
  while (s === '.' || s === '..')
  return s
}

function time(r, epochSeconds) {
  const ms = epochSeconds * 1000 + r.int(0, 999)
  switch (r.int(0, 3)) {
    case 0: return ms
    case 1: return new Date(ms)
    case 2: return new Date(ms).toISOString()
    default: return new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z')
  }
}

function ip(r) {
  const a = [r.int(1, 223), r.int(0, 255), r.int(0, 255), r.int(0, 255)].join('.')
  return r.chance(0.3) ? a : `${a}/${r.int(8, 32)}`
}

/** One generated input. Kinds: canned, custom (IP and/or start), wildcard (custom), query, policy. */
function generate(r, n) {
  const key = KEYS[n % KEYS.length]
  const input = {
    keyPairId: KEY_ID,
    privateKey: r.pick([key.pkcs1, key.pkcs8, Buffer.from(key.pkcs1), Buffer.from(key.pkcs8)]),
  }
  const algorithm = r.pick([undefined, 'SHA1', 'SHA256'])
  if (algorithm) input.algorithm = algorithm
  let url = r.pick(HOSTS)
  const depth = r.int(1, 4)
  for (let i = 0; i < depth; i++) url += `/${segment(r)}`
  const kind = r.pick(['canned', 'custom', 'wildcard', 'query', 'policy'])
  const expires = r.int(1_830_000_000, 2_200_000_000)
  if (kind === 'wildcard') url = url.replace(/\/[^/]*$/, r.pick(['/*', '/*.ts', '/seg-*']))
  if (kind === 'query' || r.chance(0.25)) {
    const pairs = []
    for (let i = r.int(1, 3); i > 0; i--) pairs.push(`${word(r, QUERY_CHARS, 1, 6)}=${word(r, QUERY_CHARS, 0, 8)}`)
    url += `?${pairs.join('&')}`
  }
  if (kind === 'policy') {
    const resource = r.chance(0.5) ? url : url.replace(/\/[^/?]*(\?.*)?$/, '/*')
    const condition = { DateLessThan: { 'AWS:EpochTime': expires } }
    // In a policy document the range always has its mask (the core refuses a bare address there).
    if (r.chance(0.5)) condition.IpAddress = { 'AWS:SourceIp': `${ip(r).split('/')[0]}/${r.int(8, 32)}` }
    input.policy = JSON.stringify({ Statement: [{ Resource: resource, Condition: condition }] })
    if (resource === url || r.chance(0.5)) input.url = url
    return input
  }
  input.url = url
  input.dateLessThan = time(r, expires)
  const needsCustom = kind === 'custom' || kind === 'wildcard'
  const start = needsCustom ? r.pick(['start', 'ip', 'both']) : r.chance(0.2) ? r.pick(['start', 'ip']) : 'none'
  if (start === 'start' || start === 'both') input.dateGreaterThan = time(r, r.int(1_700_000_000, expires - 10))
  if (start === 'ip' || start === 'both') input.ipAddress = ip(r)
  return input
}

test('getSignedUrl and getSignedCookies return the same strings as @aws-sdk/cloudfront-signer (RSA, 400 cases)', () => {
  const r = rng(20261201)
  const kinds = new Map()
  for (let n = 0; n < 400; n++) {
    const input = generate(r, n)
    const kind = input.policy ? 'policy' : input.url.includes('*') ? 'wildcard' : input.ipAddress || input.dateGreaterThan ? 'custom' : 'canned'
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    const label = `case ${n}: ${JSON.stringify({ ...input, privateKey: undefined })}`
    const expected = aws.getSignedUrl(input)
    assert.equal(ours.getSignedUrl(input), expected, label)
    assert.deepStrictEqual(ours.getSignedCookies({ ...input }), aws.getSignedCookies({ ...input }), label)
    // JSON.stringify also compares the order of the cookie names and the types (Expires is a number).
    assert.equal(JSON.stringify(ours.getSignedCookies(input)), JSON.stringify(aws.getSignedCookies(input)), label)
    const key = KEYS[n % KEYS.length]
    nodeVerifyUrl(expected, key.public)
  }
  for (const k of ['canned', 'custom', 'wildcard', 'policy']) {
    assert.ok((kinds.get(k) ?? 0) >= 40, `too few ${k} cases: ${[...kinds]}`)
  }
})

// ---- Deliberate differences: each one, the reason, and CloudFront's verdict on both outputs.

const key = KEYS[0]
const base = { keyPairId: KEY_ID, privateKey: key.pkcs1 }
const future = new Date('2031-01-01T00:00:00Z')
const verifier = new ours.Verifier({ [KEY_ID]: key.public })
const at = { now: '2030-06-01T00:00:00Z' }

test('difference: a wildcard URL without start time or IP gets a custom policy (a canned "*" matches no request)', () => {
  const input = { ...base, url: 'https://d111111abcdef8.cloudfront.net/hls/*', dateLessThan: future }
  const theirs = aws.getSignedCookies(input)
  const mine = ours.getSignedCookies(input)
  assert.ok('CloudFront-Expires' in theirs && !('CloudFront-Policy' in theirs))
  assert.ok('CloudFront-Policy' in mine && !('CloudFront-Expires' in mine))
  const segment = 'https://d111111abcdef8.cloudfront.net/hls/1.ts'
  const header = (c) => Object.entries(c).map(([k, v]) => `${k}=${v}`).join('; ')
  const denied = verifier.verify(segment, { ...at, cookies: header(theirs) })
  assert.equal(denied.allowed, false)
  assert.equal(denied.code, 'AccessDenied')
  assert.equal(verifier.verify(segment, { ...at, cookies: header(mine) }).allowed, true)
  const theirUrl = aws.getSignedUrl(input)
  const myUrl = ours.getSignedUrl(input)
  assert.match(theirUrl, /\?Expires=/)
  assert.match(myUrl, /\?Policy=/)
})

test('difference: the URL is signed as given, not re-encoded (=, comma, colon, @ in paths; / and : in query values)', () => {
  const url = 'https://d111111abcdef8.cloudfront.net/reports/q=1,2:3@x.pdf?next=https://example.com/a'
  const input = { ...base, url, dateLessThan: future }
  const theirs = aws.getSignedUrl(input)
  const mine = ours.getSignedUrl(input)
  assert.ok(theirs.startsWith('https://d111111abcdef8.cloudfront.net/reports/q%3D1%2C2%3A3%40x.pdf?next=https%3A%2F%2Fexample.com%2Fa&'), theirs)
  assert.ok(mine.startsWith(`${url}&Expires=`), mine)
  // Both are valid signatures; only ours is the link the caller wrote (and what the origin then receives).
  assert.equal(verifier.verify(mine, at).allowed, true)
  assert.equal(verifier.verify(mine, at).forwardUrl, url)
})

test('difference: a ready policy that does not cover the URL is refused (theirs returns a URL CloudFront denies)', () => {
  const policy = JSON.stringify({ Statement: [{ Resource: 'https://d111111abcdef8.cloudfront.net/a b/*', Condition: { DateLessThan: { 'AWS:EpochTime': 1924992000 } } }] })
  assert.throws(() => ours.getSignedUrl({ ...base, policy }), (e) => e instanceof ours.ResourceError && e.code === 'ERR_CFSIGN_RESOURCE' && /a space at position 39/.test(e.message))
  const policy2 = JSON.stringify({ Statement: [{ Resource: 'https://d111111abcdef8.cloudfront.net/a/*', Condition: { DateLessThan: { 'AWS:EpochTime': 1924992000 } } }] })
  const url = 'https://d111111abcdef8.cloudfront.net/b/1.ts'
  const theirs = aws.getSignedUrl({ ...base, policy: policy2, url })
  assert.equal(verifier.verify(theirs, at).allowed, false)
  assert.throws(() => ours.getSignedUrl({ ...base, policy: policy2, url }), (e) => e instanceof ours.PolicyError && /does not cover/.test(e.message))
})

test('difference: cookies for a URL a browser never sends as written (a raw space) are refused, not signed', () => {
  const input = { ...base, url: 'https://d111111abcdef8.cloudfront.net/my file.mp4', dateLessThan: future }
  const theirs = aws.getSignedCookies(input)
  const header = Object.entries(theirs).map(([k, v]) => `${k}=${v}`).join('; ')
  assert.equal(verifier.verify('https://d111111abcdef8.cloudfront.net/my%20file.mp4', { ...at, cookies: header }).allowed, false)
  assert.throws(() => ours.getSignedCookies(input), (e) => e instanceof ours.ResourceError && /%20/.test(e.message) && /position 40/.test(e.message))
})

test('difference: an invalid dateGreaterThan is an error (theirs drops it silently and access starts at once)', () => {
  const input = { ...base, url: 'https://d111111abcdef8.cloudfront.net/a.mp4', dateLessThan: future, dateGreaterThan: 'next tuesday' }
  assert.match(aws.getSignedUrl(input), /\?Expires=/)
  assert.throws(() => ours.getSignedUrl(input), (e) => e instanceof ours.TimeError && /dateGreaterThan/.test(e.message) && /not a time/.test(e.message))
})

test('difference: epoch seconds given where milliseconds are expected are an error (theirs signs a 1970 expiry)', () => {
  const input = { ...base, url: 'https://d111111abcdef8.cloudfront.net/a.mp4', dateLessThan: 1924992000 }
  assert.match(aws.getSignedUrl(input), /Expires=1924992&/)
  assert.throws(() => ours.getSignedUrl(input), (e) => e instanceof ours.TimeError && /1924992000000/.test(e.message))
})

test('difference: an expiry in the past is an error (the URL would be denied at once)', () => {
  const input = { ...base, url: 'https://d111111abcdef8.cloudfront.net/a.mp4', dateLessThan: '2020-01-01T00:00:00Z' }
  assert.match(aws.getSignedUrl(input), /Expires=1577836800/)
  assert.throws(() => ours.getSignedUrl(input), (e) => e instanceof ours.TimeError && /not in the future/.test(e.message))
})

test('difference: a #fragment is refused (theirs encodes it into the path, a different file)', () => {
  const input = { ...base, url: 'https://d111111abcdef8.cloudfront.net/a.mp4#t=10', dateLessThan: future }
  assert.ok(aws.getSignedUrl(input).startsWith('https://d111111abcdef8.cloudfront.net/a.mp4%23t%3D10?'))
  assert.throws(() => ours.getSignedUrl(input), (e) => e instanceof ours.UrlError && /fragment/.test(e.message))
})

test('difference: date strings are ISO 8601 (UTC without an offset), never local time or free text', () => {
  const input = { ...base, url: 'https://d111111abcdef8.cloudfront.net/a.mp4', dateLessThan: future.toUTCString() }
  assert.match(aws.getSignedUrl(input), /Expires=1924992000/)
  assert.throws(() => ours.getSignedUrl(input), (e) => e instanceof ours.TimeError && /2026-01-01T18:00:00Z/.test(e.message))
  assert.equal(ours.getSignedUrl({ ...input, dateLessThan: future.toISOString() }), aws.getSignedUrl({ ...input, dateLessThan: future.toISOString() }))
})

test('difference: an unknown option or algorithm is an error, not ignored', () => {
  const input = { ...base, url: 'https://d111111abcdef8.cloudfront.net/a.mp4', dateLessThan: future }
  assert.throws(() => ours.getSignedUrl({ ...input, datelessThan: future }), (e) => e instanceof ours.ArgumentError && /unknown option "datelessThan"/.test(e.message))
  assert.doesNotMatch(aws.getSignedUrl({ ...input, algorithm: 'SHA512' }), /Hash-Algorithm/)
  assert.throws(() => ours.getSignedUrl({ ...input, algorithm: 'SHA512' }), (e) => e instanceof ours.SignError && /SHA1 \(the default\) and SHA256/.test(e.message))
})

test('difference: an encrypted key with passphrase gets an error naming the fix (decrypt it once)', () => {
  const input = { ...base, privateKey: keyFile('rsa2048.encrypted-pkcs8.pem'), passphrase: 'test', url: 'https://d111111abcdef8.cloudfront.net/a.mp4', dateLessThan: future }
  assert.match(aws.getSignedUrl(input), /Signature=/)
  assert.throws(() => ours.getSignedUrl(input), (e) => e instanceof ours.KeyError && /encrypted/.test(e.message) && /openssl pkey -in encrypted.pem -out private_key.pem/.test(e.message))
})

test('ECDSA keys, which @aws-sdk/cloudfront-signer does not support (#7851), sign and verify', () => {
  const pem = keyFile('ec-p256.pkcs8.pem')
  const pub = keyFile('ec-p256.pub.pem')
  for (const algorithm of ['SHA1', 'SHA256']) {
    const url = ours.getSignedUrl({ keyPairId: KEY_ID, privateKey: pem, algorithm, url: 'https://d111111abcdef8.cloudfront.net/a.mp4', dateLessThan: future })
    nodeVerifyUrl(url, pub)
    const cookies = ours.getSignedCookies({ keyPairId: KEY_ID, privateKey: pem, algorithm, url: 'https://d111111abcdef8.cloudfront.net/v/*', dateLessThan: future })
    nodeVerifyCookies(cookies, 'https://d111111abcdef8.cloudfront.net/v/1.ts', pub)
  }
})
