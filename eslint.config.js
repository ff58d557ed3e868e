import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.bench/**']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {globals: {process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly'}},
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
    },
  },
  {
    // The Runner in src/core/exec.ts is the only module allowed to spawn processes.
    files: ['src/**/*.ts'],
    ignores: ['src/core/exec.ts'],
    rules: {
      'no-restricted-imports': ['error', {paths: ['execa', 'child_process', 'node:child_process']}],
    },
  },
  {
    // Commands stay thin: every side effect goes through src/core (one exec boundary, one fs edge).
    files: ['src/commands/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['execa', 'fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'child_process', 'node:child_process'],
      }],
    },
  },
)
