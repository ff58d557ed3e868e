// Preloaded by scripts/bench.mjs (`node --require` this file) into the CLI process of a measured
// run: appends the node process's own peak RSS (KiB, getrusage of this process alone, without its
// children) to $BENCH_NODE_RSS_FILE at exit, so the bench can print it beside GNU time's figure,
// which is the peak over the whole process tree. A benchmark aid only: never loaded by the CLI.
const file = process.env.BENCH_NODE_RSS_FILE
if (file) {
  process.on('exit', () => {
    try {
      process.getBuiltinModule('node:fs').appendFileSync(file, `${process.resourceUsage().maxRSS}\n`)
    } catch {
      // the bench reports the figure as missing
    }
  })
}
