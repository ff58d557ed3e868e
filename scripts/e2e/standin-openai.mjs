// make e2e (scripts/e2e-door.sh): a stand-in for the OpenAI Responses API on the host, for the real
// Codex CLI. It speaks enough of it for one turn: `POST /v1/responses` with `stream: true` is answered
// with Server-Sent Events as Codex's parser reads them (codex-rs/codex-api/src/sse/responses.rs:
// response.created, response.output_item.added / .done carrying a ResponseItem, the delta events,
// response.completed with the response id and usage) — first one scripted tool call that writes
// hello.txt in the repo, then, once the request carries that call's output, a final message.
//
// Every request must carry `Authorization: Bearer <expected key>` — put there by the Secrets Door,
// never by Codex, which holds a placeholder. Any other request is answered 401 and recorded: the turn
// fails. Each request is logged (one JSON line: path, whether the key was right, the tools offered,
// the call made, the tool output that came back) for scripts/e2e-door.sh to check. The key itself is
// never logged.
//
// The tool call uses what the request offers (the top-level `tools`, or the `additional_tools` items
// of `input`, namespaces flattened). Codex 0.171 offers "code mode": a single freeform tool `exec`
// whose input is JavaScript calling the nested tools its description declares — the call is then a
// custom_tool_call to exec running `tools.exec_command({cmd, workdir})` (or `tools.apply_patch`).
// Older shapes, in this order (codex-rs/protocol/src/models.rs): shell_command {command: string},
// exec_command {cmd}, shell {command: argv}, apply_patch (custom: the patch as input; function:
// {input}). A request offering none of them is answered with response.failed and logged.
//
// With a gate file, the final message waits until that file exists (logged as {holding: true}): the
// turn is then in flight — the tool has run, the agent's container is up — while the caller searches
// the container for the key.
//
// The expected key is read from a file (its first line): it is in no argv.
// Usage: node standin-openai.mjs <port, 0 for any> <expected key file> <log file> <repo path in the container> [<gate file>]
// Prints the port it listens on.
import {appendFileSync, existsSync, readFileSync} from 'node:fs'
import {createServer} from 'node:http'

const [, , port, keyFile, logFile, repoDir, gateFile] = process.argv
if (!keyFile || !logFile || !repoDir) {
  console.error('usage: standin-openai.mjs <port> <expected key file> <log file> <repo path in the container> [<gate file>]')
  process.exit(2)
}
const expectKey = readFileSync(keyFile, 'utf8').split('\n')[0]
if (!expectKey) {
  console.error(`standin-openai: no key in ${keyFile}`)
  process.exit(2)
}
/** Runs answer once the gate file exists (at once without a gate; after 5 minutes regardless). */
const whenOpen = (answer, started = Date.now()) => (!gateFile || existsSync(gateFile) || Date.now() - started > 300_000 ? answer() : setTimeout(() => whenOpen(answer, started), 100))
const CONTENT = 'hello from the door'
const file = `${repoDir}/hello.txt`
const script = `printf '%s\\n' '${CONTENT}' > '${file}'`

/**
 * Every tool the request offers, namespaces flattened: the classic `tools` list and, in the "lite"
 * request shape Codex 0.171 sends, the `additional_tools` items of `input` (namespaces of tools).
 */
function offeredTools(j) {
  const out = []
  const walk = (list, ns) => {
    for (const t of Array.isArray(list) ? list : []) {
      if (t?.type === 'namespace') walk(t.tools, t.name)
      else if (t) out.push({...t, namespace: ns, name: t.name ?? t.type})
    }
  }
  walk(j.tools, null)
  for (const item of Array.isArray(j.input) ? j.input : []) if (item?.type === 'additional_tools') walk(item.tools, null)
  return out
}

/** The call to make, from the tools the request offers; null when none fits. */
function toolCall(tools) {
  const byName = new Map(tools.map((t) => [t.name, t]))
  const fn = (name, args) => ({type: 'function_call', name, arguments: JSON.stringify(args)})
  const patch = `*** Begin Patch\n*** Add File: ${file}\n+${CONTENT}\n*** End Patch\n`
  // Code mode (Codex 0.171's default): one freeform tool, `exec`, runs JavaScript that calls the
  // nested tools its description declares (tools.exec_command, tools.apply_patch, ...)
  const exec = byName.get('exec')
  if (exec?.type === 'custom') {
    const d = exec.description ?? ''
    if (d.includes('exec_command(')) return {type: 'custom_tool_call', name: 'exec', via: 'exec_command', input: `text(JSON.stringify(await tools.exec_command(${JSON.stringify({cmd: script, workdir: repoDir})})));\n`}
    if (d.includes('apply_patch(')) return {type: 'custom_tool_call', name: 'exec', via: 'apply_patch', input: `text(JSON.stringify(await tools.apply_patch(${JSON.stringify(patch)})));\n`}
  }
  if (byName.has('shell_command')) return fn('shell_command', {command: script, workdir: repoDir})
  if (byName.has('exec_command')) return fn('exec_command', {cmd: script, workdir: repoDir})
  if (byName.has('shell')) return fn('shell', {command: ['bash', '-c', script], workdir: repoDir})
  const ap = byName.get('apply_patch')
  if (ap?.type === 'custom') return {type: 'custom_tool_call', name: 'apply_patch', input: patch}
  if (ap) return fn('apply_patch', {input: patch})
  return null
}

/** The output of our call, if the request carries it (function_call_output or custom_tool_call_output). */
function toolOutput(input) {
  const out = (Array.isArray(input) ? input : []).find((i) => (i?.type === 'function_call_output' || i?.type === 'custom_tool_call_output') && i.call_id === 'call_hello')
  if (!out) return null
  return typeof out.output === 'string' ? out.output : JSON.stringify(out.output)
}

const usage = {input_tokens: 10, input_tokens_details: {cached_tokens: 0}, output_tokens: 5, output_tokens_details: {reasoning_tokens: 0}, total_tokens: 15}

function sse(res, id, model, items) {
  res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': `req_${id}`})
  let seq = 0
  const send = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({type, sequence_number: seq++, ...data})}\n\n`)
  const response = (status, output) => ({id, object: 'response', created_at: Math.floor(Date.now() / 1000), status, model, output, usage: status === 'completed' ? usage : null})
  send('response.created', {response: response('in_progress', [])})
  send('response.in_progress', {response: response('in_progress', [])})
  items.forEach((item, output_index) => {
    if (item.type === 'message') {
      const text = item.content[0].text
      send('response.output_item.added', {output_index, item: {...item, status: 'in_progress', content: []}})
      send('response.content_part.added', {item_id: item.id, output_index, content_index: 0, part: {type: 'output_text', text: '', annotations: []}})
      // streamed in pieces, as the API does
      for (const delta of text.match(/.{1,8}/gs) ?? []) send('response.output_text.delta', {item_id: item.id, output_index, content_index: 0, delta})
      send('response.output_text.done', {item_id: item.id, output_index, content_index: 0, text})
      send('response.content_part.done', {item_id: item.id, output_index, content_index: 0, part: item.content[0]})
    } else if (item.type === 'function_call') {
      send('response.output_item.added', {output_index, item: {...item, arguments: '', status: 'in_progress'}})
      for (const delta of item.arguments.match(/.{1,16}/gs) ?? []) send('response.function_call_arguments.delta', {item_id: item.id, output_index, delta})
      send('response.function_call_arguments.done', {item_id: item.id, output_index, arguments: item.arguments})
    } else {
      send('response.output_item.added', {output_index, item: {...item, input: '', status: 'in_progress'}})
      send('response.custom_tool_call_input.delta', {item_id: item.id, output_index, delta: item.input})
      send('response.custom_tool_call_input.done', {item_id: item.id, output_index, input: item.input})
    }
    send('response.output_item.done', {output_index, item})
  })
  send('response.completed', {response: response('completed', items)})
  res.end()
}

let n = 0
const server = createServer((req, res) => {
  let body = ''
  req.on('data', (c) => (body += c))
  req.on('end', () => {
    const keyOk = req.headers.authorization === `Bearer ${expectKey}`
    let j = {}
    try { j = JSON.parse(body || '{}') } catch { j = {} } // a body that is not JSON is answered like an empty one
    const tools = offeredTools(j)
    const entry = {at: new Date().toISOString(), method: req.method, url: req.url, keyOk, stream: j.stream === true, model: j.model, tools: tools.map((t) => (t.namespace ? `${t.namespace}.${t.name}` : t.name)).slice(0, 60)}
    const log = (more) => appendFileSync(logFile, JSON.stringify({...entry, ...more}) + '\n')
    if (!keyOk) {
      log({answer: 401})
      res.writeHead(401, {'content-type': 'application/json'})
      return res.end(JSON.stringify({error: {message: 'Incorrect API key provided (stand-in: not the key the door holds)', type: 'invalid_request_error', code: 'invalid_api_key'}}))
    }
    const path = (req.url ?? '').split('?')[0]
    if (req.method === 'GET' && path === '/v1/models') {
      log({answer: 'models'})
      res.writeHead(200, {'content-type': 'application/json'})
      return res.end(JSON.stringify({object: 'list', data: [], models: []}))
    }
    if (req.method !== 'POST' || path !== '/v1/responses' || !j.stream) {
      log({answer: 404})
      res.writeHead(404, {'content-type': 'application/json'})
      return res.end(JSON.stringify({error: {message: `stand-in: no ${req.method} ${path}${j.stream ? '' : ' without stream'}`, type: 'invalid_request_error'}}))
    }
    const id = `resp_standin_${++n}`
    const output = toolOutput(j.input)
    if (output !== null) {
      log({answer: 'message', toolOutput: output.slice(0, 2000)})
      if (gateFile) appendFileSync(logFile, JSON.stringify({holding: true, url: req.url}) + '\n')
      return whenOpen(() => sse(res, id, j.model, [{type: 'message', id: `msg_${n}`, role: 'assistant', status: 'completed', content: [{type: 'output_text', text: 'Wrote hello.txt.', annotations: []}]}]))
    }
    const call = toolCall(tools)
    if (!call) {
      log({answer: 'failed', reason: 'no shell or apply_patch tool offered'})
      res.writeHead(200, {'content-type': 'text/event-stream'})
      res.write(`event: response.failed\ndata: ${JSON.stringify({type: 'response.failed', response: {id, status: 'failed', error: {code: 'standin_no_tool', message: 'stand-in: the request offers no shell or apply_patch tool'}}})}\n\n`)
      return res.end()
    }
    const {via, ...item} = call
    log({answer: 'tool', call: via ? `${call.name} → ${via}` : call.name})
    return sse(res, id, j.model, [{...item, id: `fc_${n}`, call_id: 'call_hello', status: 'completed'}])
  })
})
// Codex tries a WebSocket first and falls back to HTTPS by itself: the upgrade is refused, and logged.
server.on('upgrade', (req, socket) => {
  appendFileSync(logFile, JSON.stringify({method: req.method, url: req.url, keyOk: req.headers.authorization === `Bearer ${expectKey}`, answer: 'upgrade refused'}) + '\n')
  socket.end('HTTP/1.1 426 Upgrade Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
})
server.listen(Number(port), '0.0.0.0', () => {
  // the port actually bound (0 picks a free one), for the caller
  console.log(server.address().port)
})
