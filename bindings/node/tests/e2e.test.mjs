// End to end: a Node HTTP server (the application) hands out signed URLs and sets signed
// cookies; `cfsign edge` (the CloudFront stand-in, target/debug/cfsign) serves the protected
// files to them (200) and refuses tampered ones (403). Everything listens on 127.0.0.1 only and
// is stopped at the end.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'

import { Signer, keygen } from '@cfsign/node'

import { repoRoot } from './helpers.mjs'

const KEY_ID = 'K2JCJMDEHXQW5F'
const bin = process.env.CFSIGN_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, 'target'), 'debug', 'cfsign')

let dir
let edge
let edgeBase
let app
let appBase

function startEdge(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    const timer = setTimeout(() => reject(new Error(`cfsign edge did not start in 30 s:\n${stderr}`)), 30_000)
    child.on('error', (e) => { clearTimeout(timer); reject(e) })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`cfsign edge exited (${code}):\n${stderr}`)) })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)
      if (m) {
        clearTimeout(timer)
        child.removeAllListeners('exit')
        resolve({ child, base: m[1] })
      }
    })
  })
}

before(async () => {
  assert.ok(fs.existsSync(bin), `${bin} is missing: build it with \`cargo build -p cfsign-cli\` (scripts/test-node does), or set CFSIGN_BIN`)
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfsign-node-e2e-'))
  const keys = keygen('ecdsa')
  fs.writeFileSync(path.join(dir, 'public_key.pem'), keys.publicKey)
  const media = path.join(dir, 'media')
  fs.mkdirSync(path.join(media, 'videos'), { recursive: true })
  fs.writeFileSync(path.join(media, 'report.pdf'), 'the report')
  fs.writeFileSync(path.join(media, 'videos', '1.ts'), 'segment one')
  fs.writeFileSync(path.join(media, 'videos', '2.ts'), 'segment two')
  ;({ child: edge, base: edgeBase } = await startEdge([
    'edge', '--root', media, '--public-key', `${KEY_ID}=${path.join(dir, 'public_key.pem')}`,
    '--listen', '127.0.0.1:0', '--access-log', 'off',
  ]))

  // The application: signs with the key parsed once, for the edge's address.
  const signer = new Signer({ keyPairId: KEY_ID, privateKey: keys.privateKey, hash: 'SHA256' })
  app = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://app')
    if (url.pathname === '/download') {
      const signed = signer.signUrl(`${edgeBase}/${url.searchParams.get('file')}`, { expiresIn: '5m' })
      res.writeHead(302, { location: signed }).end()
    } else if (url.pathname === '/watch') {
      const { setCookie } = signer.signCookies(`${edgeBase}/videos/*`, { expiresIn: '1h', path: '/videos/', secure: false })
      res.writeHead(200, { 'set-cookie': setCookie, 'content-type': 'text/plain' }).end('cookies set')
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve))
  appBase = `http://127.0.0.1:${app.address().port}`
})

after(async () => {
  if (app) await new Promise((resolve) => app.close(resolve))
  if (edge) {
    const exited = new Promise((resolve) => edge.once('exit', resolve))
    edge.kill('SIGTERM')
    await exited
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

test('a signed URL handed out by the Node server is served by cfsign edge; tampered ones are refused', async () => {
  const hop = await fetch(`${appBase}/download?file=report.pdf`, { redirect: 'manual' })
  assert.equal(hop.status, 302)
  const signed = hop.headers.get('location')
  assert.ok(signed.startsWith(`${edgeBase}/report.pdf?Expires=`), signed)
  const ok = await fetch(signed)
  assert.equal(ok.status, 200)
  assert.equal(await ok.text(), 'the report')

  const tampered = [
    signed.replace('/report.pdf?', '/videos/1.ts?'),
    signed.replace(/Expires=(\d+)/, (_, n) => `Expires=${Number(n) + 60}`),
    signed.replace(/Signature=(.)/, (_, c) => `Signature=${c === 'A' ? 'B' : 'A'}`),
    signed.replace('&Hash-Algorithm=SHA256', ''),
    signed.split('?')[0],
  ]
  for (const url of tampered) {
    const res = await fetch(url)
    assert.equal(res.status, 403, url)
    assert.match(await res.text(), /<Error><Code>(AccessDenied|MissingKey|MalformedSignature)<\/Code>/)
  }
})

test('signed cookies set by the Node server open every segment under the wildcard; tampered cookies are refused', async () => {
  const res = await fetch(`${appBase}/watch`)
  assert.equal(res.status, 200)
  const setCookies = res.headers.getSetCookie()
  assert.equal(setCookies.length, 4)
  for (const c of setCookies) assert.match(c, /; Path=\/videos\/; HttpOnly; SameSite=Lax$/)
  const cookie = setCookies.map((c) => c.split(';')[0]).join('; ')
  for (const [file, body] of [['1.ts', 'segment one'], ['2.ts', 'segment two']]) {
    const seg = await fetch(`${edgeBase}/videos/${file}`, { headers: { cookie } })
    assert.equal(seg.status, 200, file)
    assert.equal(await seg.text(), body)
  }
  assert.equal((await fetch(`${edgeBase}/report.pdf`, { headers: { cookie } })).status, 403)
  const forged = cookie.replace(/CloudFront-Policy=([^;])/, (_, c) => `CloudFront-Policy=${c === 'e' ? 'f' : 'e'}`)
  assert.equal((await fetch(`${edgeBase}/videos/1.ts`, { headers: { cookie: forged } })).status, 403)
  assert.equal((await fetch(`${edgeBase}/videos/1.ts`)).status, 403)
})
