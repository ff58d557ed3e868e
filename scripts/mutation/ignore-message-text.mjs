/**
 * A Stryker ignorer plugin ("message-text"): mutants of the text a refusal shows are not counted
 * (issue 15: "do not count description strings"). Only string and template literals are skipped,
 * and only where they are message, fix or description text:
 *
 * - the message and fix arguments of the error constructors of src/core/errors.ts
 *   (`policyRefusal(code, message, fix, details)` and its siblings), of `new AgentMachineError(message, …)`
 *   and of any `new …Error(message)`, and the reason argument of the policy's own refusal helpers
 *   (`refuse(code, reason)`, `refuseDeny(d, reason)`), the `what` of hash.ts's `invalid(where, what)`
 *   and the detail of tree-scan.ts's `add(path, kind, severity, detail)` (a hazard's description);
 * - the value of a `message:`, `fix:`, `description:`, `reason:` or `why:` property;
 * - the initialiser of a `const message = …` or `const fix = …`;
 * - the argument of a zod `.describe(…)` (the JSON schema's description).
 *
 * "Inside" means anywhere in that argument's expression, up to the enclosing statement: in
 * `policyRefusal(code, names.map((n) => `'${n}' is refused`).join('; '), fix)` the template and the
 * '; ' are skipped, the map and join are not. A string that is data (a catalogue entry such as
 * '.aws', a code such as 'POLICY_SENSITIVE', a podman flag) sits elsewhere and stays mutated.
 * docs/testing.md, "Mutation testing", says what this leaves out and why.
 */
import {PluginKind, declareValuePlugin} from '@stryker-mutator/api/plugin'

/** Callee name → the argument positions that hold message or fix text. */
const MESSAGE_ARGS = new Map([
  ['policyRefusal', [1, 2]],
  ['usageError', [1, 2]],
  ['prerequisiteMissing', [1, 2]],
  ['evidenceInvalid', [1, 2]],
  ['unexpectedFailure', [1, 2]],
  ['AgentMachineError', [0]],
  ['refuse', [1]],
  ['refuseDeny', [1]],
  // hash.ts: invalid(where, what) throws JCS_INVALID; `what` is the message's description
  ['invalid', [1]],
  // tree-scan.ts: add(path, kind, severity, detail) records a hazard; the detail is its description
  // (callers only show it: launch's refusal message and warnings, the after-session report's
  // reason). The path, kind and severity are what callers act on, and stay counted.
  ['add', [3]],
])
const MESSAGE_PROPERTIES = new Set(['message', 'fix', 'description', 'reason', 'why'])
const MESSAGE_VARIABLES = new Set(['message', 'fix'])

const keyName = (node) => (node.type === 'Identifier' ? node.name : node.type === 'StringLiteral' ? node.value : undefined)

/** Why the child of `parent` is message text, or undefined. */
function messagePosition(parent, child) {
  const p = parent.node
  if (parent.isCallExpression() || parent.isNewExpression()) {
    const index = p.arguments.indexOf(child)
    if (index < 0) return undefined
    if (p.callee.type === 'Identifier') {
      const name = p.callee.name
      if (MESSAGE_ARGS.get(name)?.includes(index)) return `${index === 2 ? 'fix' : index === 3 ? 'detail' : 'message'} text of ${name}()`
      if (parent.isNewExpression() && /Error$/.test(name) && index === 0) return `message text of new ${name}()`
    }
    if (p.callee.type === 'MemberExpression' && keyName(p.callee.property) === 'describe' && index === 0) return 'description text (.describe())'
    return undefined
  }
  if (parent.isObjectProperty() && p.value === child && !p.computed && MESSAGE_PROPERTIES.has(keyName(p.key))) return `${keyName(p.key)} text`
  if (parent.isVariableDeclarator() && p.init === child && p.id.type === 'Identifier' && MESSAGE_VARIABLES.has(p.id.name)) return `${p.id.name} text`
  return undefined
}

export const messageTextIgnorer = {
  shouldIgnore(path) {
    if (!path.isStringLiteral() && !path.isTemplateLiteral()) return undefined
    let child = path.node
    let parent = path.parentPath
    while (parent && !parent.isStatement() && !parent.isProgram()) {
      const why = messagePosition(parent, child)
      if (why) return `Ignored: ${why} (not counted: docs/testing.md, "Mutation testing")`
      child = parent.node
      parent = parent.parentPath
    }
    return undefined
  },
}

export const strykerPlugins = [declareValuePlugin(PluginKind.Ignore, 'message-text', messageTextIgnorer)]
