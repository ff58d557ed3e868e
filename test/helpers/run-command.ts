/**
 * Runs an oclif command class in-process with an injected core context (fake Runner, host facts)
 * and captures stdout, stderr and the exit code, so command tests see what a user would.
 */
import {Config} from '@oclif/core'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {format} from 'node:util'

import {resetContext, setContext, type CoreContext} from '../../src/core/context.js'

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

let config: Config | undefined

export interface CommandOutput {
  stdout: string
  stderr: string
  exitCode: number
  /** stdout parsed as JSON, when it is JSON. */
  json: unknown
}

interface RunnableCommand {
  run(argv: string[], opts: Config): Promise<unknown>
}

export async function runCommand(command: RunnableCommand, argv: string[], context: Partial<CoreContext> = {}): Promise<CommandOutput> {
  config ??= await Config.load({root: REPO_ROOT})
  resetContext()
  setContext(context)
  const out: string[] = []
  const err: string[] = []
  const origOut = process.stdout.write.bind(process.stdout)
  const origErr = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write
  // oclif's ux writes through console.log/console.error; the base command's errors use stderr.write.
  const origLog = console.log
  const origError = console.error
  console.log = (...args: unknown[]) => void out.push(`${format(...args)}\n`)
  console.error = (...args: unknown[]) => void err.push(`${format(...args)}\n`)
  const previousExit = process.exitCode
  process.exitCode = undefined
  let exitCode = 0
  try {
    await command.run(argv, config)
    exitCode = Number(process.exitCode ?? 0)
  } catch (error) {
    const e = error as {oclif?: {exit?: number}; exitCode?: number; message?: string}
    exitCode = e.oclif?.exit ?? e.exitCode ?? 1
    err.push(String(e.message ?? error))
  } finally {
    process.stdout.write = origOut
    process.stderr.write = origErr
    console.log = origLog
    console.error = origError
    process.exitCode = previousExit
    resetContext()
  }
  const stdout = out.join('')
  let json: unknown
  try {
    json = JSON.parse(stdout)
  } catch {
    json = undefined
  }
  return {stdout, stderr: err.join(''), exitCode, json}
}
