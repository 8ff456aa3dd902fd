// The code blocks of the README's "Node.js" section, each run as a module inside the package (so
// '@cfsign/node' resolves to it) with a throwaway key in the environment variables they read.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'

import { keygen } from '@cfsign/node'

import { here, repoRoot } from './helpers.mjs'

const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
const section = readme.split('\n## Node.js\n')[1]?.split('\n## ')[0]
const blocks = [...(section ?? '').matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])

test('the README has a Node.js section with code blocks', () => {
  assert.ok(section, 'no "## Node.js" section in README.md')
  assert.ok(blocks.length >= 4, `${blocks.length} js blocks`)
})

const keys = keygen('ecdsa')
const env = {
  ...process.env,
  CLOUDFRONT_KEY_PAIR_ID: 'K2JCJMDEHXQW5F',
  CLOUDFRONT_PRIVATE_KEY: keys.privateKey,
  CLOUDFRONT_PUBLIC_KEY: keys.publicKey,
}

blocks.forEach((code, n) => {
  test(`README Node.js block ${n + 1} runs`, () => {
    const file = path.join(here, `.readme-block-${n + 1}.mjs`)
    fs.writeFileSync(file, code)
    try {
      const run = spawnSync(process.execPath, [file], { env, encoding: 'utf8', timeout: 60_000 })
      assert.equal(run.status, 0, `block ${n + 1} failed:\n${code}\n--- stderr:\n${run.stderr}`)
      assert.ok(run.stdout.trim().length > 0, 'the block printed nothing')
      assert.doesNotMatch(run.stdout, /undefined|false/, run.stdout)
    } finally {
      fs.rmSync(file, { force: true })
    }
  })
})
