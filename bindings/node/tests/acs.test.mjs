// The aws-cloudfront-sign drop-in: URLs and cookies CloudFront accepts for the same intent,
// checked by the Rust verifier (the addon's Verifier) and by node:crypto; RTMP included; and
// compared with the real aws-cloudfront-sign (a devDependency).
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'

import * as real from 'aws-cloudfront-sign'
import * as acs from '@cfsign/node/aws-cloudfront-sign'
import { ArgumentError, TimeError, Verifier } from '@cfsign/node'

import { cannedPolicy, cfDecode, ecKeyPair, nodeVerifyCookies, nodeVerifyUrl, rng, rsaKeyPair, splitSigned } from './helpers.mjs'

const rsa = rsaKeyPair()
const KEY_ID = 'APKAEXAMPLE123456789'
const params = { keypairId: KEY_ID, privateKeyString: rsa.pkcs1 }
const verifier = new Verifier({ [KEY_ID]: rsa.public })

test('getSignedUrl: 60 generated URLs, accepted by the Rust verifier and node:crypto, expiry as asked', () => {
  const r = rng(11)
  for (let n = 0; n < 60; n++) {
    const expireTime = Date.now() + r.int(60, 86_400) * 1000 + r.int(0, 999)
    const ipRange = r.chance(0.4) ? `198.51.100.${r.int(0, 255)}/32` : undefined
    const url = `https://d111111abcdef8.cloudfront.net/${r.pick(['videos', 'img', 'a/b/c'])}/${r.int(0, 1e6)}.${r.pick(['mp4', 'jpg', 'ts'])}${r.chance(0.3) ? `?v=${r.int(0, 9)}` : ''}`
    const expire = r.pick([expireTime, new Date(expireTime), String(expireTime)])
    const signed = acs.getSignedUrl(url, { ...params, expireTime: expire, ...(ipRange ? { ipRange } : {}) })
    assert.ok(signed.startsWith(url), signed)
    const decision = verifier.verify(signed, { clientIp: ipRange ? ipRange.split('/')[0] : '203.0.113.9' })
    assert.equal(decision.allowed, true, `${signed}: ${decision.reason}`)
    assert.equal(decision.expires, Math.round(expireTime / 1000))
    assert.equal(decision.policyForm, ipRange ? 'custom' : 'canned')
    nodeVerifyUrl(signed, rsa.public)
  }
})

test('getSignedUrl: a raw space is encoded before signing (theirs signs the raw URL and returns %20)', () => {
  const signed = acs.getSignedUrl('https://d111111abcdef8.cloudfront.net/my file.mp4', params)
  assert.ok(signed.startsWith('https://d111111abcdef8.cloudfront.net/my%20file.mp4?Expires='), signed)
  assert.equal(verifier.verify(signed).allowed, true)
  const theirs = real.getSignedUrl('https://d111111abcdef8.cloudfront.net/my file.mp4', params)
  assert.equal(verifier.verify(theirs).allowed, false, theirs)
})

test('getSignedUrl: the default lifetime is 30 minutes, as in aws-cloudfront-sign', () => {
  const before = Math.floor(Date.now() / 1000)
  const { params: p } = splitSigned(acs.getSignedUrl('https://d111111abcdef8.cloudfront.net/a.mp4', params))
  const lifetime = Number(p.Expires) - before
  assert.ok(lifetime >= 1799 && lifetime <= 1801, `${lifetime}`)
})

test('getSignedUrl: theirs (Expires with Policy, ~ as %7E) is served as CloudFront serves it; ours is canned and shorter', () => {
  for (let n = 0; n < 5; n++) {
    const expireTime = Date.now() + 3_600_000 + n * 1000
    const theirs = real.getSignedUrl('https://d111111abcdef8.cloudfront.net/a.mp4', { ...params, expireTime })
    assert.match(theirs, /\?Expires=\d+&Policy=/)
    // The verifier reads query values percent-decoded and lets the signed Policy
    // decide over the redundant Expires (crates/cfsign/src/verify/strict.rs).
    assert.equal(verifier.verify(theirs).allowed, true)
    const mine = acs.getSignedUrl('https://d111111abcdef8.cloudfront.net/a.mp4', { ...params, expireTime })
    assert.equal(splitSigned(mine).params.Policy, undefined)
    assert.equal(verifier.verify(mine).allowed, true)
    assert.ok(mine.length < theirs.length)
  }
})

test('getSignedCookies: byte-identical to aws-cloudfront-sign (always a custom policy), and valid', () => {
  const r = rng(12)
  for (let n = 0; n < 40; n++) {
    const expireTime = Date.now() + r.int(60, 86_400) * 1000
    const extra = r.chance(0.5) ? { ipRange: `192.0.2.${r.int(0, 255)}/32` } : {}
    const url = r.pick(['https://media.example.com/course-42/*', 'https://media.example.com/a.mp4', 'https://*.example.com/*'])
    const input = { ...params, expireTime, ...extra }
    const mine = acs.getSignedCookies(url, input)
    assert.deepStrictEqual(mine, real.getSignedCookies(url, input))
    assert.deepStrictEqual(Object.keys(mine), ['CloudFront-Policy', 'CloudFront-Signature', 'CloudFront-Key-Pair-Id'])
    const request = url.includes('*.') ? 'https://media.example.com/x.mp4' : url.replace('*', 'lesson-1.mp4')
    const cookies = Object.entries(mine).map(([k, v]) => `${k}=${v}`).join('; ')
    const clientIp = extra.ipRange ? extra.ipRange.split('/')[0] : '203.0.113.1'
    assert.equal(verifier.verify(request, { cookies, clientIp }).allowed, true)
    nodeVerifyCookies(mine, request, rsa.public)
  }
})

test('keys: privateKeyPath, a key flattened into one line (#19), and ECDSA', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfsign-acs-'))
  try {
    const file = path.join(dir, 'private_key.pem')
    fs.writeFileSync(file, rsa.pkcs8, { mode: 0o600 })
    const url = 'https://d111111abcdef8.cloudfront.net/a.mp4'
    const fromFile = acs.getSignedUrl(url, { keypairId: KEY_ID, privateKeyPath: file })
    assert.equal(verifier.verify(fromFile).allowed, true)
    const flattened = rsa.pkcs1.trim().split('\n').join('\\n')
    assert.throws(() => real.getSignedUrl(url, { keypairId: KEY_ID, privateKeyString: flattened }), /line breaks/)
    assert.equal(verifier.verify(acs.getSignedUrl(url, { keypairId: KEY_ID, privateKeyString: flattened })).allowed, true)
    const ec = ecKeyPair()
    const ecUrl = acs.getSignedUrl(url, { keypairId: KEY_ID, privateKeyString: ec.sec1 })
    nodeVerifyUrl(ecUrl, ec.public)
    assert.equal(new Verifier({ [KEY_ID]: ec.public }).verify(ecUrl).allowed, true)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('getSignedRTMPUrl: server path and signed stream name, the signature checked with node:crypto', () => {
  const expireTime = Date.now() + 600_000
  const out = acs.getSignedRTMPUrl('s5c39gqb8ow64r.cloudfront.net', 'videos/mediafile.flv', { ...params, expireTime })
  assert.equal(out.rtmpServerPath, 'rtmp://s5c39gqb8ow64r.cloudfront.net/cfx/st')
  const [name, query] = out.rtmpStreamName.split('?')
  assert.equal(name, 'videos/mediafile.flv')
  const p = Object.fromEntries(query.split('&').map((kv) => kv.split('=')))
  assert.deepStrictEqual(Object.keys(p), ['Expires', 'Signature', 'Key-Pair-Id'])
  assert.equal(Number(p.Expires), Math.round(expireTime / 1000))
  const policy = cannedPolicy('videos/mediafile.flv', p.Expires)
  assert.ok(crypto.verify('sha1', Buffer.from(policy), rsa.public, cfDecode(p.Signature)))
  // With an IP range: a custom policy whose resource is the stream name.
  const custom = acs.getSignedRTMPUrl('s5c39gqb8ow64r.cloudfront.net', 'videos/mediafile.flv', { ...params, expireTime, ipRange: '192.0.2.0/24' })
  const cp = Object.fromEntries(custom.rtmpStreamName.split('?')[1].split('&').map((kv) => kv.split('=')))
  const json = JSON.parse(cfDecode(cp.Policy).toString())
  assert.equal(json.Statement[0].Resource, 'videos/mediafile.flv')
  assert.ok(crypto.verify('sha1', cfDecode(cp.Policy), rsa.public, cfDecode(cp.Signature)))
  // Theirs throws now (RTMP was retired); the 2.x shape is the one reproduced.
  assert.throws(() => real.getSignedRTMPUrl('s5c39gqb8ow64r.cloudfront.net', 'videos/mediafile.flv', params), /RTMP/)
  assert.throws(() => acs.getSignedRTMPUrl('https://s5c39gqb8ow64r.cloudfront.net', 'a.flv', params), (e) => e instanceof ArgumentError && /bare host name/.test(e.message))
  assert.throws(() => acs.getSignedRTMPUrl('s5c39gqb8ow64r.cloudfront.net', '/a.flv', params), /leading '\/'/)
})

test('bad parameters are errors with the fix', () => {
  const url = 'https://d111111abcdef8.cloudfront.net/a.mp4'
  assert.throws(() => acs.getSignedUrl(url, { ...params, expireTime: 'tomorrow' }), (e) => e instanceof TimeError && /milliseconds/.test(e.message))
  assert.throws(() => acs.getSignedUrl(url, { ...params, expireTime: 1_900_000_000 }), (e) => e instanceof TimeError && /1900000000000/.test(e.message))
  assert.throws(() => acs.getSignedUrl(url, { keypairId: KEY_ID }), (e) => e instanceof ArgumentError && /privateKeyString/.test(e.message))
  assert.throws(() => acs.getSignedUrl(url, { ...params, ipRange: '2001:db8::/32' }), /IPv4 only/)
})
