/**
 * An unknown command (`sourceosctl agent-machine doctr`): say so in the CLI's own words with the
 * closest command, and exit 2 (usage). In a terminal, @oclif/plugin-not-found asks "Did you mean
 * …?" and runs it when confirmed; piped, the suggestion and the fix are printed on their own lines.
 */
import {toConfiguredId, type Hook} from '@oclif/core'
import {ExitCode} from '../../core/errors.js'
import {closestCommand} from '../suggest.js'

const hook: Hook.CommandNotFound = async function (opts) {
  const {config} = opts
  if (process.stdin.isTTY && process.stderr.isTTY && !opts.argv?.includes('--json')) {
    // Loaded only here: its prompt library is not for every start-up.
    const {default: notFound} = await import('@oclif/plugin-not-found')
    return notFound.call(this, opts)
  }
  const ids = config.commands.filter((c) => !c.hidden).flatMap((c) => [c.id, ...c.aliases])
  const suggestion = closestCommand(opts.id, ids)
  const bin = config.bin
  const typed = toConfiguredId(opts.id, config)
  const topic = opts.id.includes(':') && config.findTopic(opts.id.split(':')[0]!) ? ` ${opts.id.split(':')[0]}` : ''
  const message = `\`${bin} ${typed}\` is not a ${bin} command.${suggestion ? ` Did you mean \`${bin} ${toConfiguredId(suggestion, config)}\`?` : ''}`
  const fix = suggestion ? `run \`${bin} ${toConfiguredId(suggestion, config)}\` (or \`${bin} help${topic}\` for the list)` : `see \`${bin} help${topic}\` for the list of commands`
  if (opts.argv?.includes('--json')) {
    process.stdout.write(`${JSON.stringify({error: {code: 'COMMAND_NOT_FOUND', message, exitCode: ExitCode.USAGE, fix, details: {suggestion: suggestion ? toConfiguredId(suggestion, config) : null}}}, null, 2)}\n`)
  } else {
    process.stderr.write(`Error: ${message}\nFix: ${fix}\n`)
  }
  this.exit(ExitCode.USAGE)
}

export default hook
