// Signer.signManifest: an HLS playlist and a DASH MPD signed by the core's manifest::sign, in
// policy mode (one policy stamped) and urls mode (a canned policy per URI), a string in gives a
// string out and a Buffer a Buffer, the report (as `cfsign manifest --json`, in camel case), the
// signatures checked with node:crypto, and the errors. Mirrors bindings/python/tests/test_manifest.py.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import * as cfsign from '@cfsign/node'
import { ManifestError, PolicyError, Signer, Verifier, dashUrlQuery, keygen } from '@cfsign/node'

import { cfDecode, nodeVerifyUrl, splitSigned } from './helpers.mjs'

const KEY_ID = 'K2JCJMDEHXQW5F'
const HOST = 'https://d111111abcdef8.cloudfront.net'
const PLAYLIST_URL = `${HOST}/hls/show-7/index.m3u8`
const MPD_URL = `${HOST}/dash/show-7/manifest.mpd`
const ec = keygen('ecdsa')
const signer = new Signer({ keyPairId: KEY_ID, privateKey: ec.privateKey })
const verifier = new Verifier({ [KEY_ID]: ec.publicKey })
const EXPIRES = '2098-12-31T23:59:59Z'
const EXPIRES_EPOCH = 4070908799

const PLAYLIST = [
  '#EXTM3U',
  '#EXT-X-VERSION:3',
  '#EXT-X-TARGETDURATION:6',
  '#EXT-X-KEY:METHOD=AES-128,URI="keys/k1.bin"',
  '#EXTINF:6.0,',
  'seg0.ts',
  '#EXTINF:6.0,',
  '720p/seg1.ts?v=2',
  '#EXTINF:6.0,',
  'https://ads.example.net/ad.ts',
  '#EXT-X-ENDLIST',
  '',
].join('\n')

const MPD = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT12S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period>
    <AdaptationSet mimeType="video/mp4">
      <Representation id="v0" bandwidth="800000">
        <SegmentList duration="6">
          <Initialization sourceURL="v0/init.mp4"/>
          <SegmentURL media="v0/1.m4s"/>
          <SegmentURL media="v0/2.m4s"/>
        </SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
`

const MPD_TEMPLATE = `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT12S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period>
    <AdaptationSet mimeType="video/mp4">
      <SegmentTemplate initialization="init-$RepresentationID$.mp4" media="chunk-$RepresentationID$-$Number$.m4s" startNumber="1" duration="6"/>
      <Representation id="v0" bandwidth="800000"/>
    </AdaptationSet>
  </Period>
</MPD>
`

/** The quoted URI= attributes and the URI lines of an HLS playlist. */
function playlistUris(text) {
  const uris = [...text.matchAll(/URI="([^"]*)"/g)].map((m) => m[1])
  return uris.concat(text.split('\n').filter((l) => l && !l.startsWith('#')))
}

function mpdUris(text) {
  return [...text.matchAll(/(?:sourceURL|media)="([^"]*)"/g)].map((m) => m[1].replaceAll('&amp;', '&'))
}

const paramsOf = (uri) => splitSigned(new URL(uri, PLAYLIST_URL).href).params
const policyOf = (uri) => JSON.parse(cfDecode(paramsOf(uri).Policy).toString('utf8'))

test('HLS, policy mode: the covered URIs stamped with one policy, the report', () => {
  const signed = signer.signManifest(PLAYLIST, PLAYLIST_URL, { expires: EXPIRES })
  assert.equal(typeof signed.manifest, 'string')
  assert.equal(signed.format, 'HLS')
  assert.equal(signed.mode, 'policy')
  assert.equal(signed.resource, `${HOST}/hls/show-7/*`)
  assert.equal(signed.expires, EXPIRES_EPOCH)
  assert.equal(signed.signed, 3)
  assert.deepStrictEqual(signed.signedByPlace, { 'EXT-X-KEY URI': 1, 'URI line': 2 })
  assert.deepStrictEqual(Object.keys(signed.signedByPlace), ['EXT-X-KEY URI', 'URI line'])
  assert.deepStrictEqual(signed.leftAlone, [
    {
      line: 10,
      place: 'URI line',
      uri: 'https://ads.example.net/ad.ts',
      reason: 'https://ads.example.net/ad.ts is outside the signed resource',
    },
  ])
  assert.deepStrictEqual(Object.keys(signed).sort(), ['expires', 'format', 'leftAlone', 'manifest', 'mode', 'resource', 'signed', 'signedByPlace'])

  const [key, seg0, seg1, ad] = playlistUris(signed.manifest)
  assert.match(key, /^keys\/k1\.bin\?Policy=/)
  assert.match(seg0, /^seg0\.ts\?Policy=/)
  assert.match(seg1, /^720p\/seg1\.ts\?v=2&Policy=/)
  assert.equal(ad, 'https://ads.example.net/ad.ts')
  assert.deepStrictEqual(paramsOf(key), paramsOf(seg0))
  assert.deepStrictEqual(paramsOf(seg1), paramsOf(seg0))
  assert.deepStrictEqual(Object.keys(paramsOf(seg0)), ['Policy', 'Signature', 'Key-Pair-Id'])
  const unsigned = signed.manifest.replace(new RegExp(`[?&]Policy=[^&"\\n]*&Signature=[^&"\\n]*&Key-Pair-Id=${KEY_ID}`, 'g'), '')
  assert.equal(unsigned, PLAYLIST)

  assert.deepStrictEqual(policyOf(seg0), {
    Statement: [{ Resource: `${HOST}/hls/show-7/*`, Condition: { DateLessThan: { 'AWS:EpochTime': EXPIRES_EPOCH } } }],
  })
  for (const uri of [key, seg0, seg1]) {
    const url = new URL(uri, PLAYLIST_URL).href
    nodeVerifyUrl(url, ec.publicKey)
    assert.equal(verifier.verify(url).allowed, true, url)
  }
})

test('a Buffer gives a Buffer, a string a string, with the same text', () => {
  const fromBuffer = signer.signManifest(Buffer.from(PLAYLIST), PLAYLIST_URL, { expires: EXPIRES })
  const fromString = signer.signManifest(PLAYLIST, PLAYLIST_URL, { expires: EXPIRES })
  assert.ok(Buffer.isBuffer(fromBuffer.manifest))
  assert.equal(typeof fromString.manifest, 'string')
  const strip = (t) => t.replace(/Signature=[^&"\n]*/g, '')
  assert.equal(strip(fromBuffer.manifest.toString('utf8')), strip(fromString.manifest))
  assert.deepStrictEqual(fromBuffer.signedByPlace, fromString.signedByPlace)
  // Non-ASCII text and CRLF line endings survive both ways.
  const crlf = '#EXTM3U\r\n#EXTINF:6,Zürich\r\nseg0.ts\r\n'
  const out = signer.signManifest(crlf, PLAYLIST_URL, { expiresIn: '1h' }).manifest
  assert.ok(out.startsWith('#EXTM3U\r\n#EXTINF:6,Zürich\r\nseg0.ts?Policy=') && out.endsWith('\r\n'), out)
  const raw = signer.signManifest(Buffer.from(crlf), PLAYLIST_URL, { expiresIn: '1h' }).manifest
  assert.ok(Buffer.isBuffer(raw) && raw.includes(Buffer.from('Zürich')))
})

test('DASH, policy mode: SegmentList and SegmentTemplate', () => {
  for (const mpd of [MPD, MPD_TEMPLATE]) {
    const signed = signer.signManifest(mpd, MPD_URL, { expiresIn: '10m' })
    assert.equal(signed.format, 'DASH')
    assert.equal(signed.resource, `${HOST}/dash/show-7/*`)
    assert.deepStrictEqual(signed.leftAlone, [])
    const uris = mpdUris(signed.manifest)
    assert.ok(uris.length > 0 && uris.every((u) => u.includes('?Policy=')), uris.join('\n'))
    assert.match(signed.manifest, /&amp;Signature=/)
    assert.equal(policyOf(uris[0]).Statement[0].Resource, `${HOST}/dash/show-7/*`)
  }
  const listed = signer.signManifest(MPD, MPD_URL, { expiresIn: '10m' })
  assert.equal(listed.signed, 3)
  assert.deepStrictEqual(listed.signedByPlace, { 'Initialization@sourceURL': 1, 'SegmentURL@media': 2 })
  const templated = signer.signManifest(MPD_TEMPLATE, MPD_URL, { expiresIn: '10m' })
  assert.equal(templated.signed, 2)
  assert.deepStrictEqual(Object.keys(templated.signedByPlace).sort(), ['SegmentTemplate@initialization', 'SegmentTemplate@media'])
})

test('a resource or a whole policy decides what is signed', () => {
  const narrow = signer.signManifest(PLAYLIST, PLAYLIST_URL, { expiresIn: '1h', resource: `${HOST}/hls/show-7/720p/*` })
  assert.equal(narrow.resource, `${HOST}/hls/show-7/720p/*`)
  assert.equal(narrow.signed, 1)
  assert.deepStrictEqual(narrow.leftAlone.map((l) => l.uri), ['keys/k1.bin', 'seg0.ts', 'https://ads.example.net/ad.ts'])
  const [seg1] = playlistUris(narrow.manifest).filter((u) => u.includes('Policy='))
  assert.equal(policyOf(seg1).Statement[0].Resource, `${HOST}/hls/show-7/720p/*`)

  const custom = signer.signManifest(PLAYLIST, PLAYLIST_URL, { expires: EXPIRES, ip: '203.0.113.0/24', notBefore: '2098-12-31T00:00:00Z' })
  const condition = policyOf(playlistUris(custom.manifest)[1]).Statement[0].Condition
  assert.deepStrictEqual(condition.IpAddress, { 'AWS:SourceIp': '203.0.113.0/24' })
  assert.deepStrictEqual(condition.DateGreaterThan, { 'AWS:EpochTime': 4070822400 })

  const policy = JSON.stringify({ Statement: [{ Resource: `${HOST}/hls/*`, Condition: { DateLessThan: { 'AWS:EpochTime': EXPIRES_EPOCH } } }] })
  const given = signer.signManifest(Buffer.from(PLAYLIST), PLAYLIST_URL, { policy })
  assert.equal(given.resource, `${HOST}/hls/*`)
  assert.equal(given.expires, EXPIRES_EPOCH)
  assert.equal(cfDecode(paramsOf(playlistUris(given.manifest.toString())[1]).Policy).toString('utf8'), policy)

  // `encode` percent-encodes the manifest URL first, as for signUrl.
  const encoded = signer.signManifest(PLAYLIST, `${HOST}/hls/show 7/index.m3u8`, { expiresIn: '1h', encode: true })
  assert.equal(encoded.resource, `${HOST}/hls/show%207/*`)
})

test('urls mode: each covered URI signed with its own canned policy', () => {
  const signed = signer.signManifest(PLAYLIST, PLAYLIST_URL, { mode: 'urls', expires: EXPIRES })
  assert.equal(signed.mode, 'urls')
  assert.equal(signed.expires, EXPIRES_EPOCH)
  assert.equal(signed.signed, 3)
  assert.equal(signed.resource, `${HOST}/hls/show-7/*`)
  const [key, seg0, seg1, ad] = playlistUris(signed.manifest)
  assert.equal(ad, 'https://ads.example.net/ad.ts')
  const signatures = new Set()
  for (const uri of [key, seg0, seg1]) {
    const params = paramsOf(uri)
    assert.equal(params.Expires, String(EXPIRES_EPOCH), uri)
    assert.equal(params.Policy, undefined)
    signatures.add(params.Signature)
    const url = new URL(uri, PLAYLIST_URL).href
    nodeVerifyUrl(url, ec.publicKey)
    assert.equal(verifier.verify(url).allowed, true, url)
  }
  assert.equal(signatures.size, 3)
  assert.match(seg1, new RegExp(`^720p/seg1\\.ts\\?v=2&Expires=${EXPIRES_EPOCH}&Signature=`))

  const dash = signer.signManifest(Buffer.from(MPD), MPD_URL, { mode: 'urls', expiresIn: '10m' })
  assert.ok(Buffer.isBuffer(dash.manifest))
  assert.ok(mpdUris(dash.manifest.toString()).every((u) => u.includes('?Expires=')))
})

test('errors: the manifest (with its line), the mode and options, the URL', () => {
  const isManifest = (pattern) => (e) => e instanceof ManifestError && e instanceof cfsign.CfsignError && e.code === 'ERR_CFSIGN_MANIFEST' && pattern.test(e.message)
  const broken = '#EXTM3U\n#EXTINF:6,\nseg0.ts\n#EXT-X-KEY:METHOD=AES-128,URI="k.bin\n'
  assert.throws(() => signer.signManifest(broken, PLAYLIST_URL, { expiresIn: '1m' }), isManifest(/^manifest: line 4: the quoted value of attribute URI in EXT-X-KEY/))
  assert.throws(() => signer.signManifest('<html></html>', PLAYLIST_URL, { expiresIn: '1m' }), isManifest(/line 1: the manifest is neither an HLS playlist/))
  assert.throws(
    () => signer.signManifest('<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">\n<Period>\n</MPD>\n', MPD_URL, { expiresIn: '1m' }),
    isManifest(/line 3: the MPD is not well-formed XML/),
  )
  assert.throws(() => signer.signManifest(Buffer.from([...Buffer.from('#EXTM3U\nseg'), 0xff, 0x0a]), PLAYLIST_URL, { expiresIn: '1m' }), isManifest(/line 2: the manifest is not UTF-8/))
  assert.throws(() => signer.signManifest(MPD_TEMPLATE, MPD_URL, { mode: 'urls', expiresIn: '1m' }), isManifest(/SegmentTemplate@\w+ is the template/))

  assert.throws(
    () => signer.signManifest(PLAYLIST, PLAYLIST_URL, { mode: 'urls', expiresIn: '1m', ip: '203.0.113.7' }),
    (e) => e instanceof PolicyError && e.code === 'ERR_CFSIGN_POLICY' && /^options\.mode: each URI is signed with a canned policy/.test(e.message),
  )
  assert.throws(() => signer.signManifest(PLAYLIST, PLAYLIST_URL, { mode: 'urls', expiresIn: '1m', notBefore: new Date() }), (e) => e instanceof PolicyError)
  assert.throws(
    () => signer.signManifest(PLAYLIST, PLAYLIST_URL, { expiresIn: '1m', resource: `${HOST}/hls/show-7/seg0.ts` }),
    (e) => e instanceof PolicyError && /^options\.resource: a canned policy covers one exact URL/.test(e.message),
  )

  assert.throws(() => signer.signManifest(PLAYLIST, PLAYLIST_URL, {}), (e) => e instanceof cfsign.TimeError && /an expiry is required/.test(e.message))
  assert.throws(() => signer.signManifest(PLAYLIST, `${HOST}/hls/a b/index.m3u8`, { expiresIn: '1m' }), (e) => e instanceof cfsign.UrlError && /^manifestUrl: .*position/.test(e.message))
  assert.throws(() => signer.signManifest(PLAYLIST, PLAYLIST_URL, { expiresIn: '1m', mode: 'playlist' }), (e) => e instanceof cfsign.ArgumentError && /options\.mode: "playlist" is not a mode/.test(e.message))
  assert.throws(() => signer.signManifest(PLAYLIST, PLAYLIST_URL, { expiresIn: '1m', modes: 'urls' }), (e) => e instanceof cfsign.ArgumentError && /unknown option "modes"/.test(e.message))
  assert.throws(() => signer.signManifest(42, PLAYLIST_URL, { expiresIn: '1m' }))
})

test('dashUrlQuery adds the UrlQueryInfo descriptor once and signs nothing', () => {
  const mpd = [
    '<?xml version="1.0"?>',
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">',
    '<Period>',
    '<AdaptationSet id="0"><SegmentTemplate media="v-$Number$.m4s"/></AdaptationSet>',
    '<AdaptationSet id="1"><SegmentTemplate media="a-$Number$.m4s"/></AdaptationSet>',
    '</Period>',
    '</MPD>',
    '',
  ].join('\n')
  const descriptor =
    '<EssentialProperty schemeIdUri="urn:mpeg:dash:urlparam:2014" xmlns:up="urn:mpeg:dash:schema:urlparam:2014">' +
    '<up:UrlQueryInfo queryTemplate="$querypart$" useMPDUrlQuery="true"/></EssentialProperty>'
  const out = dashUrlQuery(mpd)
  assert.equal(typeof out, 'string')
  assert.equal(out.split(descriptor).length - 1, 2)
  assert.equal(out.replaceAll(descriptor, ''), mpd)
  assert.ok(!out.includes('Signature='))
  assert.deepEqual(dashUrlQuery(Buffer.from(mpd)), Buffer.from(out))
  assert.equal(dashUrlQuery(out), out)
  assert.throws(() => dashUrlQuery('#EXTM3U\nseg.ts\n'), (e) => {
    assert.ok(e instanceof ManifestError, String(e))
    assert.match(e.message, /^mpd: line 1: this is an HLS playlist/)
    return true
  })
})
