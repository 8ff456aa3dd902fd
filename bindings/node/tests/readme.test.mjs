// The JavaScript examples: the code blocks of the README's "Node.js" section and of docs/node.md,
// each run as a module inside the package (so '@cfsign/node' resolves to it) with a throwaway key
// in the environment variables they read.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'

import { keygen } from '@cfsign/node'

import { here, repoRoot } from './helpers.mjs'

const jsBlocks = (text) => [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
const section = readme.split('\n## Node.js\n')[1]?.split('\n## ')[0]
const readmeBlocks = jsBlocks(section ?? '')
const docsBlocks = jsBlocks(fs.readFileSync(path.join(repoRoot, 'docs', 'node.md'), 'utf8'))
const blocks = [...readmeBlocks, ...docsBlocks]

test('the README has a Node.js section with a code block, and docs/node.md the rest', () => {
  assert.ok(section, 'no "## Node.js" section in README.md')
  assert.equal(readmeBlocks.length, 1, `${readmeBlocks.length} js blocks in the README`)
  assert.ok(docsBlocks.length >= 4, `${docsBlocks.length} js blocks in docs/node.md`)
})

const keys = keygen('ecdsa')
const env = {
  ...process.env,
  CLOUDFRONT_KEY_PAIR_ID: 'K2JCJMDEHXQW5F',
  CLOUDFRONT_PRIVATE_KEY: keys.privateKey,
  CLOUDFRONT_PUBLIC_KEY: keys.publicKey,
}

blocks.forEach((code, n) => {
  const where = n < readmeBlocks.length ? `README.md block ${n + 1}` : `docs/node.md block ${n + 1 - readmeBlocks.length}`
  test(`${where} runs`, () => {
    const file = path.join(here, `.readme-block-${n + 1}.mjs`)
    fs.writeFileSync(file, code)
    try {
      const run = spawnSync(process.execPath, [file], { env, encoding: 'utf8', timeout: 60_000 })
      assert.equal(run.status, 0, `${where} failed:\n${code}\n--- stderr:\n${run.stderr}`)
      assert.ok(run.stdout.trim().length > 0, 'the block printed nothing')
      assert.doesNotMatch(run.stdout, /undefined|false/, run.stdout)
    } finally {
      fs.rmSync(file, { force: true })
    }
  })
})
