// The native API: Signer (signUrl, signCookies, signPolicy().applyTo, signUrls), Verifier
// (verify, explain), keygen, the error classes; loading from CommonJS and ES modules.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import os from 'node:os'
import { test } from 'node:test'

import * as esm from '@cfsign/node'
import { CfsignError, Signer, Verifier, keygen } from '@cfsign/node'

import { nodeVerifyCookies, nodeVerifyUrl } from './helpers.mjs'

const require = createRequire(import.meta.url)
const KEY_ID = 'K2JCJMDEHXQW5F'
const ec = keygen('ecdsa')
const rsa = keygen('rsa')
const now = '2030-01-01T00:00:00Z'

test('CommonJS and ES modules load the same addon objects', () => {
  const cjs = require('@cfsign/node')
  assert.equal(cjs.Signer, esm.Signer)
  assert.equal(cjs.getSignedUrl, esm.getSignedUrl)
  assert.equal(require('@cfsign/node/aws-cloudfront-sign').getSignedUrl, require('../aws-cloudfront-sign.js').getSignedUrl)
  assert.equal(typeof esm.default.Verifier, 'function')
})

test('keygen makes keys CloudFront accepts; ECDSA P-256 and SHA-256 verify with node:crypto', () => {
  assert.equal(ec.keyType, 'ECDSA P-256')
  assert.equal(rsa.keyType, 'RSA-2048')
  assert.match(ec.privateKey, /^-----BEGIN PRIVATE KEY-----/)
  assert.match(ec.publicKey, /^-----BEGIN PUBLIC KEY-----/)
  for (const [pair, hash] of [[ec, 'SHA256'], [ec, 'SHA1'], [rsa, 'SHA256']]) {
    const signer = new Signer({ keyPairId: KEY_ID, privateKey: pair.privateKey, hash })
    assert.equal(signer.hash, hash)
    const url = signer.signUrl('https://d111111abcdef8.cloudfront.net/a.mp4', { expiresIn: '15m' })
    assert.equal(url.endsWith('&Hash-Algorithm=SHA256'), hash === 'SHA256')
    nodeVerifyUrl(url, pair.publicKey)
    const custom = signer.signUrl('https://d111111abcdef8.cloudfront.net/a.mp4', { expiresIn: '15m', ip: '192.0.2.0/24', notBefore: new Date() })
    assert.match(nodeVerifyUrl(custom, pair.publicKey), /"IpAddress":\{"AWS:SourceIp":"192.0.2.0\/24"\}/)
  }
  assert.throws(() => keygen('dsa'), (e) => e instanceof esm.ArgumentError && /"ecdsa"/.test(e.message))
})

test('signUrl: canned by default, custom with a start time, IP or resource; times as Date, ms or ISO text', () => {
  const signer = new Signer({ keyPairId: KEY_ID, privateKey: Buffer.from(rsa.privateKey) })
  const url = 'https://d111111abcdef8.cloudfront.net/videos/intro%20final.mp4?v=2'
  const a = signer.signUrl(url, { expires: new Date('2030-01-01T01:00:00Z'), now })
  const b = signer.signUrl(url, { expires: Date.parse('2030-01-01T01:00:00Z'), now })
  const c = signer.signUrl(url, { expires: '2030-01-01T01:00:00Z', now })
  const d = signer.signUrl(url, { expiresIn: '1h', now })
  assert.ok(a === b && b === c && c === d, `${a}\n${d}`)
  assert.ok(a.startsWith(`${url}&Expires=1893459600&Signature=`), a)
  const wildcard = signer.signUrl(url, { expiresIn: '1h', resource: 'https://d111111abcdef8.cloudfront.net/videos/*' })
  assert.match(wildcard, /&Policy=/)
  assert.throws(
    () => signer.signUrl('https://d111111abcdef8.cloudfront.net/other.mp4', { expiresIn: '1h', resource: 'https://d111111abcdef8.cloudfront.net/videos/*' }),
    (e) => e instanceof esm.PolicyError && /does not cover/.test(e.message),
  )
  assert.equal(
    signer.signUrl('https://d111111abcdef8.cloudfront.net/a b.mp4', { expiresIn: '1h', encode: true, now }).split('?')[0],
    'https://d111111abcdef8.cloudfront.net/a%20b.mp4',
  )
})

test('signCookies: values, Set-Cookie strings with the CLI attributes, warnings', () => {
  const signer = new Signer({ keyPairId: KEY_ID, privateKey: ec.privateKey, hash: 'SHA256' })
  const out = signer.signCookies('https://media.example.com/course-42/*', {
    expiresIn: '4h',
    domain: 'media.example.com',
    path: '/course-42/',
  })
  assert.deepStrictEqual(Object.keys(out.cookies).sort(), ['CloudFront-Hash-Algorithm', 'CloudFront-Key-Pair-Id', 'CloudFront-Policy', 'CloudFront-Signature'])
  assert.equal(out.setCookie.length, 4)
  for (const h of out.setCookie) assert.match(h, /; Domain=media\.example\.com; Path=\/course-42\/; Secure; HttpOnly; SameSite=Lax$/)
  assert.deepStrictEqual(out.warnings, [])
  assert.equal(out.policyForm, 'custom')
  nodeVerifyCookies(out.cookies, 'https://media.example.com/course-42/1.ts', ec.publicKey)
  const verifier = new Verifier({ [KEY_ID]: ec.publicKey })
  assert.equal(verifier.verify('https://media.example.com/course-42/1.ts', { cookies: out.cookieHeader }).allowed, true)
  assert.equal(verifier.verify('https://media.example.com/course-42/1.ts', { cookies: out.cookies }).allowed, true)

  const canned = signer.signCookies('https://media.example.com/a.mp4', { expiresIn: '1h', path: '/a*', sameSite: 'Strict', maxAge: '1h', secure: false })
  assert.deepStrictEqual(canned.warnings.map((w) => w.code), ['canned-cookie', 'cookie-path-wildcard', 'persistent-cookie'])
  assert.match(canned.setCookie[0], /^CloudFront-Expires=\d+; Path=\/a\*; Max-Age=3600; HttpOnly; SameSite=Strict$/)
  assert.throws(() => signer.signCookies('https://media.example.com/*', { expiresIn: '1h', sameSite: 'None', secure: false }), (e) => e instanceof esm.CookieError && /SameSite=None requires Secure/.test(e.message))
})

test('signPolicy: signed once, applied to every URL it covers, refused for others', () => {
  const signer = new Signer({ keyPairId: KEY_ID, privateKey: ec.privateKey })
  const stamp = signer.signPolicy({ resource: 'https://d111111abcdef8.cloudfront.net/album/*', expiresIn: '1h' })
  assert.equal(stamp.policyForm, 'custom')
  assert.match(stamp.queryParameters, /^Policy=[^&]+&Signature=[^&]+&Key-Pair-Id=K2JCJMDEHXQW5F$/)
  const verifier = new Verifier({ [KEY_ID]: ec.publicKey })
  for (let n = 1; n <= 5; n++) {
    const url = stamp.applyTo(`https://d111111abcdef8.cloudfront.net/album/${n}.jpg`)
    assert.ok(url.endsWith(stamp.queryParameters))
    assert.equal(verifier.verify(url).allowed, true)
  }
  assert.throws(() => stamp.applyTo('https://d111111abcdef8.cloudfront.net/other/1.jpg'), (e) => e.code === 'ERR_CFSIGN_POLICY')
  assert.deepStrictEqual(Object.keys(stamp.cookies()).sort(), ['CloudFront-Key-Pair-Id', 'CloudFront-Policy', 'CloudFront-Signature'])
  assert.throws(() => signer.signPolicy({ expiresIn: '1h' }), (e) => e instanceof esm.ArgumentError && /options.resource is required/.test(e.message))
})

test('signUrls: off the JavaScript thread, in order, the same as signUrl; a bad URL rejects naming its index', async () => {
  const signer = new Signer({ keyPairId: KEY_ID, privateKey: rsa.privateKey })
  const urls = Array.from({ length: 500 }, (_, n) => `https://d111111abcdef8.cloudfront.net/seg/${n}.ts`)
  const options = { expires: '2030-01-01T01:00:00Z', now }
  const pending = signer.signUrls(urls, options)
  assert.ok(pending instanceof Promise)
  const signed = await pending
  assert.equal(signed.length, urls.length)
  for (const n of [0, 1, 250, 499]) assert.equal(signed[n], signer.signUrl(urls[n], options))
  for (const threads of [1, 2, os.availableParallelism()]) {
    assert.deepStrictEqual(await signer.signUrls(urls, { ...options, threads }), signed)
  }
  const stamped = await signer.signUrls(urls, { ...options, resource: 'https://d111111abcdef8.cloudfront.net/seg/*' })
  assert.equal(new Set(stamped.map((u) => u.split('?')[1])).size, 1)
  const bad = [...urls]
  bad[321] = 'https://d111111abcdef8.cloudfront.net/seg/3 21.ts'
  await assert.rejects(signer.signUrls(bad, options), (e) => e instanceof esm.UrlError && /^urls\[321\]: character ' '/.test(e.message))
  await assert.rejects(async () => signer.signUrls(urls, { ...options, threads: 0 }), (e) => e instanceof esm.ArgumentError && /threads/.test(e.message))
})

test('Verifier: verify and explain return the core decision and findings', () => {
  const signer = new Signer({ keyPairId: KEY_ID, privateKey: ec.privateKey, hash: 'SHA256' })
  const verifier = new Verifier({ [KEY_ID]: ec.publicKey, KOTHERKEY: rsa.publicKey })
  const url = signer.signUrl('https://d111111abcdef8.cloudfront.net/a.mp4', { expires: '2030-01-01T01:00:00Z', now })
  const ok = verifier.verify(url, { now })
  assert.equal(ok.allowed, true)
  assert.equal(ok.keyPairId, KEY_ID)
  assert.equal(ok.hashAlgorithm, 'SHA256')
  assert.equal(ok.forwardUrl, 'https://d111111abcdef8.cloudfront.net/a.mp4')
  const expired = verifier.verify(url, { now: '2030-01-01T02:00:00Z' })
  assert.deepStrictEqual([expired.allowed, expired.status, expired.code], [false, 403, 'AccessDenied'])
  const stripped = url.replace('&Hash-Algorithm=SHA256', '')
  const why = verifier.explain(stripped, { now })
  assert.equal(why.decision.allowed, false)
  assert.ok(why.findings.some((f) => f.code === 'hash-algorithm-missing'), JSON.stringify(why.findings))
  assert.match(why.text, /verdict: 403/)
  const decodeOnly = new Verifier({}).explain(url, { now })
  assert.equal(decodeOnly.decision, undefined)
  assert.ok(decodeOnly.facts.length > 0 && decodeOnly.notChecked.length > 0)
  assert.throws(() => new Verifier({}).verify(url), (e) => e instanceof esm.ArgumentError && /no public keys/.test(e.message))
  assert.throws(() => new Verifier({ [KEY_ID]: ec.privateKey }), (e) => e instanceof esm.KeyError && /private key, but a public key is needed/.test(e.message))
  assert.throws(() => verifier.verify(url, { clientIp: 'localhost' }), (e) => e instanceof esm.ArgumentError && /not an IP address/.test(e.message))
})

test('errors are CfsignError subclasses with a code and the core message', () => {
  try {
    new Signer({ keyPairId: 'AKIAIOSFODNN7EXAMPLE', privateKey: ec.privateKey })
    assert.fail('no error')
  } catch (e) {
    assert.ok(e instanceof esm.SignError && e instanceof CfsignError && e instanceof Error)
    assert.equal(e.name, 'SignError')
    assert.equal(e.code, 'ERR_CFSIGN_SIGN')
    assert.match(e.message, /^options\.keyPairId: key pair ID "AKIAIOSFODNN7EXAMPLE": this is an AWS access key ID/)
  }
  assert.throws(() => new Signer({ keyPairId: KEY_ID, privateKey: 42 }), (e) => e instanceof esm.ArgumentError && /PEM string or a Buffer, not a number/.test(e.message))
  assert.throws(() => new Signer({ keyPairId: KEY_ID, privateKey: ec.publicKey }), (e) => e instanceof esm.KeyError && /this is a public key/.test(e.message))
})
