/**
 * The mutation run's ignorer (scripts/mutation/ignore-message-text.mjs): which string literals are
 * left uncounted as message, fix or description text, and which stay counted because they are data
 * (a code, a hazard kind, a path). Checked on small sources parsed the way Stryker parses them.
 */
import {parseSync, traverse, type NodePath} from '@babel/core'
import {describe, expect, it} from 'vitest'
import {messageTextIgnorer} from '../../../scripts/mutation/ignore-message-text.mjs'

/** Each string literal's value → whether the ignorer leaves it uncounted. */
function verdicts(source: string): Record<string, boolean> {
  const ast = parseSync(source, {filename: 'x.ts', presets: ['@babel/preset-typescript'], babelrc: false, configFile: false})
  const out: Record<string, boolean> = {}
  traverse(ast!, {
    StringLiteral(p: NodePath) {
      if (p.parentPath?.isImportDeclaration()) return
      out[(p.node as {value: string}).value] = messageTextIgnorer.shouldIgnore(p) !== undefined
    },
  })
  return out
}

describe('the message-text ignorer', () => {
  it("a hazard's detail (add()'s fourth argument) is not counted; its path, kind and severity are", () => {
    expect(verdicts(`add('/p', 'socket', 'refuse', 'a unix socket' + x)`)).toEqual({'/p': false, socket: false, refuse: false, 'a unix socket': true})
  })

  it("another add() with fewer arguments (a Set's, a list builder's) keeps every string counted", () => {
    expect(verdicts(`add('/etc/passwd', 'profile'); set.add('x')`)).toEqual({'/etc/passwd': false, profile: false, x: false})
  })

  it("a refusal's message and fix are not counted; its code is", () => {
    expect(verdicts(`throw policyRefusal('POLICY_SENSITIVE', 'a denied path', 'remove it', {path: '/x'})`)).toEqual({
      POLICY_SENSITIVE: false,
      'a denied path': true,
      'remove it': true,
      '/x': false,
    })
  })
})
