// make e2e (scripts/e2e-door.sh): a stand-in for the Anthropic Messages API on the host. It speaks
// enough of it, streaming included, for one scripted tool call (Write hello.txt) and a final message;
// it records each request (path, whether the door put the expected key in x-api-key) to a log file.
// With a gate file, the final message waits until that file exists (logged as {holding: true}): the
// turn is then in flight — the tool has run, the agent's container is up — while the caller searches
// the container for the key.
// The expected key is read from a file (its first line): it is in no argv.
// Usage: node standin-anthropic.mjs <port, 0 for any> <expected key file> <log file> [<file path in the container> [<gate file>]]; prints the port.
import {createServer} from 'node:http'
import {appendFileSync, existsSync, readFileSync} from 'node:fs'
const [, , port, keyFile, logFile, filePath = '/workspace/repo/hello.txt', gateFile] = process.argv
const expectKey = readFileSync(keyFile, 'utf8').split('\n')[0]
/** Runs answer once the gate file exists (at once without a gate; after 5 minutes regardless). */
const whenOpen = (answer, started = Date.now()) => (!gateFile || existsSync(gateFile) || Date.now() - started > 300_000 ? answer() : setTimeout(() => whenOpen(answer, started), 100))
const sse = (res, events) => {
  res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache'})
  for (const [type, data] of events) res.write(`event: ${type}\ndata: ${JSON.stringify({type, ...data})}\n\n`)
  res.end()
}
createServer((req, res) => {
  let body = ''
  req.on('data', (c) => (body += c))
  req.on('end', () => {
    const keyOk = req.headers['x-api-key'] === expectKey
    let j = {}
    try { j = JSON.parse(body || '{}') } catch { j = {} } // a body that is not JSON is answered like an empty one
    const msgs = j.messages ?? []
    const last = msgs.at(-1)
    const hasResult = Array.isArray(last?.content) && last.content.some((c) => c.type === 'tool_result')
    appendFileSync(logFile, JSON.stringify({method: req.method, url: req.url, keyOk, stream: !!j.stream, model: j.model, hasResult, tools: (j.tools ?? []).map((t) => t.name).slice(0, 40)}) + '\n')
    if (!keyOk) { res.writeHead(401, {'content-type': 'application/json'}); return res.end(JSON.stringify({type: 'error', error: {type: 'authentication_error', message: 'bad key'}})) }
    if (req.url.startsWith('/v1/messages/count_tokens')) { res.writeHead(200, {'content-type': 'application/json'}); return res.end('{"input_tokens": 10}') }
    if (!req.url.startsWith('/v1/messages')) { res.writeHead(404); return res.end('{}') }
    const usage = {input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0}
    const message = {id: 'msg_1', type: 'message', role: 'assistant', model: j.model ?? 'claude', content: [], stop_reason: null, stop_sequence: null, usage}
    const wantsTool = !hasResult && (j.tools ?? []).some((t) => t.name === 'Write')
    if (!j.stream) {
      res.writeHead(200, {'content-type': 'application/json'})
      return res.end(JSON.stringify({...message, content: [{type: 'text', text: 'ok'}], stop_reason: 'end_turn'}))
    }
    if (wantsTool) {
      const input = JSON.stringify({file_path: filePath, content: 'hello from the door\n'})
      return sse(res, [
        ['message_start', {message}],
        ['content_block_start', {index: 0, content_block: {type: 'tool_use', id: 'toolu_1', name: 'Write', input: {}}}],
        ['content_block_delta', {index: 0, delta: {type: 'input_json_delta', partial_json: input}}],
        ['content_block_stop', {index: 0}],
        ['message_delta', {delta: {stop_reason: 'tool_use', stop_sequence: null}, usage: {output_tokens: 5}}],
        ['message_stop', {}],
      ])
    }
    if (hasResult && gateFile) appendFileSync(logFile, JSON.stringify({holding: true, url: req.url}) + '\n')
    return whenOpen(() => sse(res, [
      ['message_start', {message}],
      ['content_block_start', {index: 0, content_block: {type: 'text', text: ''}}],
      ['content_block_delta', {index: 0, delta: {type: 'text_delta', text: 'Wrote hello.txt.'}}],
      ['content_block_stop', {index: 0}],
      ['message_delta', {delta: {stop_reason: 'end_turn', stop_sequence: null}, usage: {output_tokens: 5}}],
      ['message_stop', {}],
    ]))
  })
}).listen(Number(port), '0.0.0.0', function () {
  // the port actually bound (0 picks a free one), for the caller
  console.log(this.address().port)
})
