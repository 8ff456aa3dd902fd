// Every public function of the package, type-checked with `tsc --noEmit --strict` by
// scripts/test-node (not run: the tests run the same calls).
import { readFileSync } from 'node:fs'

import {
  ArgumentError,
  CfsignError,
  type CloudfrontSignedCookiesOutput,
  type Decision,
  type Explanation,
  type KeyPair,
  type LeftAloneUri,
  ManifestError,
  type ManifestOptions,
  type SignedCookies,
  type SignedManifest,
  SignedPolicy,
  Signer,
  UrlError,
  Verifier,
  getSignedCookies,
  getSignedUrl,
  keygen,
} from '@cfsign/node'
import * as acs from '@cfsign/node/aws-cloudfront-sign'

const keys: KeyPair = keygen('ecdsa')
const rsa: KeyPair = keygen('rsa')
const pem: Buffer = readFileSync('private_key.pem')

// Drop-in for @aws-sdk/cloudfront-signer.
const url: string = getSignedUrl({
  url: 'https://d111111abcdef8.cloudfront.net/a.mp4',
  keyPairId: 'K2JCJMDEHXQW5F',
  privateKey: pem,
  dateLessThan: new Date(Date.now() + 3_600_000),
  dateGreaterThan: '2026-01-01T00:00:00Z',
  ipAddress: '192.0.2.0/24',
  algorithm: 'SHA256',
})
const cookies: CloudfrontSignedCookiesOutput = getSignedCookies({
  keyPairId: 'K2JCJMDEHXQW5F',
  privateKey: rsa.privateKey,
  policy: '{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/*","Condition":{"DateLessThan":{"AWS:EpochTime":1924992000}}}]}',
})
const policyCookie: string | undefined = cookies['CloudFront-Policy']

// Drop-in for aws-cloudfront-sign.
const params: acs.SignatureOptions = { keypairId: 'APKAEXAMPLE', privateKeyString: rsa.privateKey, expireTime: Date.now() + 60_000 }
const old: string = acs.getSignedUrl('https://d111111abcdef8.cloudfront.net/a.mp4', params)
const oldCookies: Record<string, string> = acs.getSignedCookies('https://d111111abcdef8.cloudfront.net/*', params)
const rtmp: { rtmpServerPath: string; rtmpStreamName: string } = acs.getSignedRTMPUrl('s5c39gqb8ow64r.cloudfront.net', 'a.flv', params)

// The native API.
const signer = new Signer({ keyPairId: 'K2JCJMDEHXQW5F', privateKey: keys.privateKey, hash: 'SHA256' })
const id: string = signer.keyPairId
const kind: string = signer.keyType + signer.hash
const one: string = signer.signUrl('https://d111111abcdef8.cloudfront.net/b.mp4', { expiresIn: '15m', ip: '203.0.113.0/24' })
const many: Promise<string[]> = signer.signUrls(['https://d111111abcdef8.cloudfront.net/1.ts'], { expires: new Date(), threads: 2 })
const jar: SignedCookies = signer.signCookies('https://d111111abcdef8.cloudfront.net/v/*', { expiresIn: '1h', sameSite: 'Strict', path: '/v/' })
const headers: string[] = jar.setCookie
const stamp: SignedPolicy = signer.signPolicy({ resource: 'https://d111111abcdef8.cloudfront.net/album/*', expiresIn: '1h' })
const stamped: string = stamp.applyTo('https://d111111abcdef8.cloudfront.net/album/1.jpg', { encode: false })
const asCookies: Record<string, string> = stamp.cookies()
const facts: [string, string, number] = [stamp.queryParameters, stamp.policy + stamp.policyForm, stamp.expires]
const manifestOptions: ManifestOptions = { mode: 'urls', expiresIn: '6h' }
const hls: SignedManifest = signer.signManifest('#EXTM3U\nseg0.ts\n', 'https://d111111abcdef8.cloudfront.net/hls/index.m3u8', manifestOptions)
const dash: SignedManifest = signer.signManifest(readFileSync('manifest.mpd'), 'https://d111111abcdef8.cloudfront.net/dash/manifest.mpd', {
  expiresIn: '6h',
  resource: 'https://d111111abcdef8.cloudfront.net/dash/*',
})
const report: [string | Buffer, 'HLS' | 'DASH', 'policy' | 'urls', string, number, number] = [hls.manifest, hls.format, hls.mode, hls.resource, hls.expires, hls.signed]
const places: Record<string, number> = dash.signedByPlace
const skipped: LeftAloneUri[] = dash.leftAlone.filter((l: LeftAloneUri) => l.line > 0 && l.place + l.uri + l.reason !== '')

const verifier = new Verifier({ K2JCJMDEHXQW5F: keys.publicKey })
const decision: Decision = verifier.verify(one, { clientIp: '203.0.113.7', now: Date.now(), cookies: jar.cookies })
const why: Explanation = verifier.explain(one, { cookies: jar.cookieHeader })
const denied: string | undefined = decision.allowed ? undefined : decision.code

try {
  signer.signUrl('https://d111111abcdef8.cloudfront.net/a b.mp4', { expiresIn: '1m' })
} catch (e) {
  if (e instanceof UrlError || e instanceof ArgumentError || e instanceof ManifestError) {
    const code: CfsignError['code'] = e.code
    console.log(code, e.message)
  }
}

// @ts-expect-error: the hash is SHA1 or SHA256
new Signer({ keyPairId: 'K1', privateKey: keys.privateKey, hash: 'MD5' })
// @ts-expect-error: the mode is policy or urls
signer.signManifest('#EXTM3U\n', 'https://d111111abcdef8.cloudfront.net/i.m3u8', { expiresIn: '1h', mode: 'segments' })

console.log(url, policyCookie, old, oldCookies, rtmp, id, kind, many, headers, stamped, asCookies, facts, why.findings, denied, report, places, skipped)
