// The CLI's bad-input corpus (crates/cfsign/tests/data/bad_inputs.json, shared with the CLI and
// the Python package) through the Node API: each case throws the error class of its kind with
// the core's message; and random input never crashes the process and never comes back altered.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'

import * as cfsign from '@cfsign/node'

import { repoRoot, rng } from './helpers.mjs'

const DATA = path.join(repoRoot, 'crates', 'cfsign', 'tests', 'data')
const CORPUS = JSON.parse(fs.readFileSync(path.join(DATA, 'bad_inputs.json'), 'utf8')).cases
const KINDS = {
  url: cfsign.UrlError,
  policy: cfsign.PolicyError,
  time: cfsign.TimeError,
  key: cfsign.KeyError,
  sign: cfsign.SignError,
}

/** The corpus's options in the Node API's names. Numbers there are the CLI's epoch seconds,
 * given here as text (a JavaScript number is milliseconds, like a Date). */
function nodeOptions(options) {
  const names = { expires_in: 'expiresIn', not_before: 'notBefore', expires: 'expires', ip: 'ip', resource: 'resource' }
  const out = {}
  for (const [k, v] of Object.entries(options)) {
    if (k === 'hash') continue
    assert.ok(names[k], `unknown corpus option ${k}`)
    out[names[k]] = typeof v === 'number' ? String(v) : v
  }
  return out
}

test('the corpus is the shared one', () => {
  assert.ok(CORPUS.length >= 25)
  assert.deepStrictEqual(new Set(CORPUS.map((c) => c.kind)), new Set(Object.keys(KINDS)))
})

for (const c of CORPUS) {
  test(`bad input: ${c.name}`, () => {
    const key = fs.readFileSync(path.join(DATA, c.key ?? 'keys/rsa2048.pkcs1.pem'))
    let result
    assert.throws(
      () => {
        const signer = new cfsign.Signer({ keyPairId: c.key_pair_id ?? 'K1', privateKey: key, hash: c.options.hash })
        result = signer.signUrl(c.url, nodeOptions(c.options))
      },
      (e) => {
        assert.ok(e instanceof KINDS[c.kind], `${c.name}: ${e.name} (${e.code}): ${e.message}`)
        assert.ok(e instanceof cfsign.CfsignError && e instanceof Error)
        assert.ok(e.message.includes(c.message), `${c.name}: ${e.message}`)
        return true
      },
    )
    assert.equal(result, undefined)
  })
}

test('random URLs either throw a CfsignError or come back exactly as given (plus the signing parameters)', async () => {
  const r = rng(7)
  const signer = new cfsign.Signer({ keyPairId: 'K1', privateKey: fs.readFileSync(path.join(DATA, 'keys/ec-p256.pkcs8.pem')) })
  const alphabet = ['a', 'Z', '0', '/', '?', '&', '=', '%', '%2', '%41', '#', ' ', '\t', '\n', '"', '<', '\\', '^', '`', '{', '|', 'é', '日', '\u0000', '\uD800', '*', '.', '..', ':', '@', '+', ',', ';', '!', "'", '(', 'Expires=', 'Signature', '~', '[', ']']
  let signed = 0
  const urls = []
  for (let n = 0; n < 3000; n++) {
    let url = r.pick(['https://x.example.com', 'http://cdn.example.org:8080', 'https://X.example.com', 'ftp://x', ''])
    if (r.chance(0.8)) url += '/'
    for (let i = r.int(0, 12); i > 0; i--) url += r.chance(0.8) ? r.pick(['a', 'Z', '0', '/', '-', '_', '~', 'x=1', '?']) : r.pick(alphabet)
    urls.push(url)
    try {
      const out = signer.signUrl(url, { expiresIn: '1h' })
      assert.ok(out.startsWith(url) && /[?&](Expires=\d+|Policy=[A-Za-z0-9_~-]+)&Signature=[A-Za-z0-9_~-]+&Key-Pair-Id=K1$/.test(out.slice(url.length)), `${JSON.stringify(url)} -> ${out}`)
      signed++
    } catch (e) {
      assert.ok(e instanceof cfsign.CfsignError, `${JSON.stringify(url)}: ${e}`)
    }
  }
  assert.ok(signed > 50, `only ${signed} random URLs were valid`)
  // The same through signUrls: a bad one rejects the whole call with its index.
  const good = urls.filter((u) => { try { signer.signUrl(u, { expiresIn: '1h' }); return true } catch { return false } })
  assert.equal((await signer.signUrls(good, { expiresIn: '1h' })).length, good.length)
})

test('wrongly typed arguments are ArgumentErrors, never crashes', () => {
  const signer = new cfsign.Signer({ keyPairId: 'K1', privateKey: fs.readFileSync(path.join(DATA, 'keys/ec-p256.pkcs8.pem')) })
  const url = 'https://x.example.com/a'
  for (const options of [{ expires: true }, { expires: {} }, { expires: NaN }, { expires: new Date('nope') }, { expiresIn: 60 }, { ip: 7, expiresIn: '1h' }, { encode: 'yes', expiresIn: '1h' }, { expiresIn: '1h', policy: 42 }]) {
    assert.throws(() => signer.signUrl(url, options), (e) => e instanceof cfsign.ArgumentError || e instanceof cfsign.TimeError, JSON.stringify(options))
  }
  assert.throws(() => signer.signUrl(url, { expiresIn: '1h', expires: '2099-01-01' }), (e) => e instanceof cfsign.TimeError && /not both/.test(e.message))
  assert.throws(() => signer.signUrl(42, { expiresIn: '1h' }), Error)
  assert.throws(() => new cfsign.Signer({ keyPairId: 'K1' }), (e) => e instanceof cfsign.ArgumentError && /privateKey is required/.test(e.message))
  assert.throws(() => new cfsign.Verifier({ K1: 5 }), (e) => e instanceof cfsign.ArgumentError)
  assert.throws(() => cfsign.getSignedUrl({ keyPairId: 'K1', privateKey: 'x', url }), (e) => e instanceof cfsign.CfsignError)
})
