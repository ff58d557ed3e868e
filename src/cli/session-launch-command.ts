/**
 * run/shell with --detach: the launcher (prints the run id and how to attach) and the keeper
 * (the background copy that owns the session; core/sessions/keeper.ts).
 */
import {Flags} from '@oclif/core'

import {getContext} from '../core/context.js'
import {AgentMachineError, usageError} from '../core/errors.js'
import type {LaunchInput} from '../core/launch/launch.js'
import type {LaunchResult} from '../core/launch/result.js'
import {stateDir} from '../core/profile/location.js'
import {KEEPER_FLAG, keeperSide, startDetached} from '../core/sessions/keeper.js'
import {LaunchCommand} from './launch-command.js'
import {style} from './style.js'

export const sessionFlags = {
  detach: Flags.boolean({
    description: 'Start the session in the background: the same checks, plan and hardening; prints the run id and how to attach, exec, see the logs and stop it. The evidence record is completed when the session ends, however it ends.',
    default: false,
  }),
  [KEEPER_FLAG.slice(2)]: Flags.string({hidden: true, options: ['tty', 'notty'], description: 'Internal: this process keeps a detached session.'}),
}

export interface DetachedResult {
  runId: string
  detached: true
  container: string
  keeperPid: number
  log: string
  commands: {attach: string; exec: string; logs: string; stop: string}
}

const RUN_ID = /^[a-z0-9][a-z0-9-]{7,62}$/

type LaunchArgs = Omit<LaunchInput, 'json' | 'cwd' | 'stdinIsTTY' | 'stdoutIsTTY' | 'timeoutMs' | 'cliArgv' | 'repo'> & {repo: string | undefined; timeoutSeconds: number}

export abstract class SessionLaunchCommand extends LaunchCommand {
  /** The verb's body: foreground, launcher of a detached session, or its keeper. */
  protected async launchSession(verb: 'run' | 'shell', input: LaunchArgs, flags: {detach: boolean; 'session-keeper'?: string | undefined}): Promise<LaunchResult | DetachedResult> {
    const keeper = flags['session-keeper']
    if (keeper) return this.keep(input, keeper === 'tty')
    if (flags.detach && !input.dryRun) return this.detachLaunch(verb, input.runId)
    return this.launchWith({...input, ...(flags.detach ? {detach: true} : {})})
  }

  private async detachLaunch(verb: 'run' | 'shell', runIdFlag: string | undefined): Promise<DetachedResult> {
    if (runIdFlag !== undefined && !RUN_ID.test(runIdFlag)) throw usageError('RUN_ID_INVALID', `--run-id '${runIdFlag.replace(/[^\x20-\x7e]/g, '?').slice(0, 80)}' is not valid.`, 'use 8-63 lower-case letters, digits and -')
    const ctx = getContext()
    const host = await ctx.hostFacts()
    const {newRunId} = await import('../core/launch/prepare.js')
    const runId = runIdFlag ?? newRunId()
    const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY)
    let started
    try {
      started = await startDetached({state: stateDir(host), verb, argv: this.argv, runId, hasRunId: runIdFlag !== undefined, tty})
    } catch (error) {
      const preamble = (error as {preamble?: string}).preamble
      if (preamble && !this.jsonEnabled()) process.stderr.write(preamble.endsWith('\n') ? preamble : `${preamble}\n`)
      throw error
    }
    if (started.preamble && !this.jsonEnabled()) process.stderr.write(started.preamble.endsWith('\n') ? started.preamble : `${started.preamble}\n`)
    const bin = `${this.config.bin} agent-machine`
    const commands = {attach: `${bin} attach ${runId}`, exec: `${bin} exec ${runId} -- <command>`, logs: `${bin} logs ${runId} --follow`, stop: `${bin} stop ${runId}`}
    const c = style()
    this.say(`${c.bold(`Session ${runId}`)} runs in the background (${verb}).`)
    this.say(`  attach:  ${commands.attach}   (detach again: Ctrl-P Ctrl-Q)`)
    this.say(`  exec:    ${commands.exec}`)
    this.say(`  logs:    ${commands.logs}`)
    this.say(`  stop:    ${commands.stop}`)
    return {runId, detached: true, container: `sourceos-agent-${runId}`, keeperPid: started.keeperPid, log: started.log, commands}
  }

  private async keep(input: LaunchArgs, tty: boolean): Promise<LaunchResult> {
    const ctx = getContext()
    const host = await ctx.hostFacts()
    const runId = input.runId
    if (!runId) throw usageError('RUN_ID_REQUIRED', 'a session keeper needs its run id.', 'start detached sessions with --detach')
    const side = keeperSide(runId, stateDir(host), tty)
    let result: LaunchResult
    try {
      result = await this.launchWith({...input, detach: true, keeper: side.hooks})
    } catch (error) {
      side.failed(error)
      await side.ended(error instanceof AgentMachineError ? error.exitCode : 1, null)
      throw error
    }
    await side.ended(typeof process.exitCode === 'number' ? process.exitCode : result.exitCode, result.evidence)
    return result
  }
}
