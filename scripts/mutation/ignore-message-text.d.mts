// Types for the tests (test/unit/scripts/ignore-message-text.test.ts) of ignore-message-text.mjs.
import type {NodePath} from '@babel/core'

/** Stryker's Ignorer: a reason when the literal at `path` is message text, else undefined. */
export const messageTextIgnorer: {shouldIgnore(path: NodePath): string | undefined}
export const strykerPlugins: unknown[]
