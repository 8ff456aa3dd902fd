// Shared helpers of the Node tests: a seeded random generator, keys, and an independent
// check of signed URLs and cookies with node:crypto (the policy rebuilt as CloudFront does).
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const here = path.dirname(fileURLToPath(import.meta.url))
export const packageDir = path.resolve(here, '..')
export const repoRoot = path.resolve(packageDir, '..', '..')
export const keysDir = path.join(repoRoot, 'crates', 'cfsign', 'tests', 'data', 'keys')

/** mulberry32: a small seeded generator, so every run tests the same cases. */
export function rng(seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  }
}

/** Key pairs made with node:crypto, as PEM strings. */
export function rsaKeyPair() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    pkcs1: privateKey.export({ type: 'pkcs1', format: 'pem' }),
    pkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    public: publicKey.export({ type: 'spki', format: 'pem' }),
  }
}

export function ecKeyPair() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return {
    pkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    sec1: privateKey.export({ type: 'sec1', format: 'pem' }),
    public: publicKey.export({ type: 'spki', format: 'pem' }),
  }
}

/** CloudFront's base64 (`+=/` written as `-_~`) back to bytes. */
export function cfDecode(text) {
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64')
}

const SIGNING = new Set(['Expires', 'Policy', 'Signature', 'Key-Pair-Id', 'Hash-Algorithm'])

/** Splits a signed URL into the URL as requested (without the signing parameters) and those parameters. */
export function splitSigned(url) {
  const q = url.indexOf('?')
  if (q < 0) throw new Error(`no query in ${url}`)
  const parts = url.slice(q + 1).split('&')
  const kept = []
  const params = {}
  for (const p of parts) {
    const eq = p.indexOf('=')
    const name = eq < 0 ? p : p.slice(0, eq)
    if (SIGNING.has(name)) params[name] = p.slice(eq + 1)
    else kept.push(p)
  }
  return { base: url.slice(0, q) + (kept.length ? `?${kept.join('&')}` : ''), params }
}

/** The canned policy CloudFront rebuilds for `resource` and `expires`. */
export function cannedPolicy(resource, expires) {
  return `{"Statement":[{"Resource":"${resource}","Condition":{"DateLessThan":{"AWS:EpochTime":${expires}}}}]}`
}

function checkSignature(policyJson, signature, hash, publicKeyPem) {
  return crypto.verify(hash, Buffer.from(policyJson), publicKeyPem, cfDecode(signature))
}

/** Verifies a signed URL with node:crypto only: the policy it carries (or the canned policy
 * rebuilt from the URL) and its signature. Returns the policy JSON. */
export function nodeVerifyUrl(url, publicKeyPem) {
  const { base, params } = splitSigned(url)
  const policy = params.Policy ? cfDecode(params.Policy).toString('utf8') : cannedPolicy(base, params.Expires)
  const hash = params['Hash-Algorithm'] === 'SHA256' ? 'sha256' : 'sha1'
  if (!checkSignature(policy, params.Signature, hash, publicKeyPem)) {
    throw new Error(`node:crypto: bad signature on ${url}`)
  }
  return policy
}

/** The same for cookies ({ name: value }) sent with a request for `url`. */
export function nodeVerifyCookies(cookies, url, publicKeyPem) {
  const policy = cookies['CloudFront-Policy']
    ? cfDecode(cookies['CloudFront-Policy']).toString('utf8')
    : cannedPolicy(url, cookies['CloudFront-Expires'])
  const hash = cookies['CloudFront-Hash-Algorithm'] === 'SHA256' ? 'sha256' : 'sha1'
  if (!checkSignature(policy, cookies['CloudFront-Signature'], hash, publicKeyPem)) {
    throw new Error('node:crypto: bad cookie signature')
  }
  return policy
}

/** A key file of the core's test data. */
export function keyFile(name) {
  return fs.readFileSync(path.join(keysDir, name), 'utf8')
}
