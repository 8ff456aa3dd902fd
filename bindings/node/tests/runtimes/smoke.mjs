// The same smoke test under Node, Bun and Deno (scripts/test-node runs it with each): load the
// addon, sign a URL and cookies, verify them, use a drop-in, get an error class, sign in bulk.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cfsign = require('../../index.js')
const acs = require('../../aws-cloudfront-sign.js')

const runtime = globalThis.Bun ? `bun ${Bun.version}` : globalThis.Deno ? `deno ${Deno.version.deno}` : `node ${process.version}`
const check = (ok, what) => {
  if (!ok) throw new Error(`${runtime}: ${what}`)
}

const keys = cfsign.keygen('ecdsa')
const signer = new cfsign.Signer({ keyPairId: 'K2JCJMDEHXQW5F', privateKey: keys.privateKey, hash: 'SHA256' })
const verifier = new cfsign.Verifier({ K2JCJMDEHXQW5F: keys.publicKey })

const url = signer.signUrl('https://d111111abcdef8.cloudfront.net/a.mp4', { expiresIn: '5m' })
check(verifier.verify(url).allowed, `signUrl not allowed: ${url}`)
check(!verifier.verify(url.replace('a.mp4', 'b.mp4')).allowed, 'a tampered URL was allowed')

const cookies = signer.signCookies('https://d111111abcdef8.cloudfront.net/v/*', { expiresIn: '5m' })
check(verifier.verify('https://d111111abcdef8.cloudfront.net/v/1.ts', { cookies: cookies.cookieHeader }).allowed, 'cookies not allowed')

const drop = cfsign.getSignedUrl({ url: 'https://d111111abcdef8.cloudfront.net/b.mp4', keyPairId: 'K2JCJMDEHXQW5F', privateKey: keys.privateKey, dateLessThan: new Date(Date.now() + 60_000) })
check(verifier.verify(drop).allowed, 'getSignedUrl not allowed')
const old = acs.getSignedUrl('https://d111111abcdef8.cloudfront.net/c.mp4', { keypairId: 'K2JCJMDEHXQW5F', privateKeyString: keys.privateKey })
check(verifier.verify(old).allowed, 'aws-cloudfront-sign getSignedUrl not allowed')

let thrown
try {
  signer.signUrl('https://d111111abcdef8.cloudfront.net/a b.mp4', { expiresIn: '5m' })
} catch (e) {
  thrown = e
}
check(thrown instanceof cfsign.UrlError && thrown.code === 'ERR_CFSIGN_URL' && /%20/.test(thrown.message), `error: ${thrown}`)

const many = await signer.signUrls(Array.from({ length: 100 }, (_, n) => `https://d111111abcdef8.cloudfront.net/s/${n}.ts`), { expiresIn: '5m' })
check(many.length === 100 && many.every((u) => verifier.verify(u).allowed), 'signUrls')

console.log(`smoke ok: ${runtime}`)
