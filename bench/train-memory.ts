/**
 * Where training's memory goes (issue 14: a month's peak RSS at most 1.3 x the cube):
 * `windcast train --epochs 1` as a child process under /usr/bin/time -v, its VmRSS and RssAnon
 * read from /proc every 0.2 s beside its log, this checkout and optionally another (--base),
 * alternating over rounds. Per run: the peak (/usr/bin/time's, and the sampled one with the
 * log line it fell in), RSS at the phases (before the epochs, the epoch's end, the quantile
 * fit), the epoch's samples/s, the quantile phase's seconds (the epoch's log line to the
 * head's), CPU seconds and the load average before and after (wall figures are only
 * comparable at similar load; memory figures do not depend on it).
 *
 *   npm run build && node dist/bench/train-memory.js --data DIR [--base OTHER_CHECKOUT] [--rounds 3] [--timeline FILE]
 *
 * --timeline writes every stamped log line with the RSS at that moment (the last run's).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './stats.js';

const { values: opts } = parseArgs({
  options: {
    data: { type: 'string' },
    base: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    timeline: { type: 'string' },
  },
});
if (!opts.data) throw new Error('--data DIR is required (a folder of hourly GeoTIFFs with its cube cache)');
const here = resolve(new URL('../..', import.meta.url).pathname);

interface Run {
  variant: string;
  maxRssMiB: number;
  sampledPeakMiB: number;
  peakDuring: string;
  beforeEpochsMiB: number;
  epochEndMiB: number;
  quantileMaxMiB: number;
  samplesPerSecond: number;
  quantileSeconds: number;
  cpuSeconds: number;
  load: [number, number];
  lines: string[];
}

const mib = (kib: string) => Number(kib) / 1024;

function runOnce(variant: string, checkout: string): Promise<Run> {
  const models = mkdtempSync(join(tmpdir(), 'windcast-bench-mem-'));
  const args = ['-v', join(checkout, 'bin', 'windcast'), 'train', '--data', resolve(opts.data!), '--run', 'bench', '--models-dir', models, '--epochs', '1'];
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let pid = 0;
  let rss = 0;
  let anon = 0;
  let peak = 0;
  let peakDuring = '';
  let lastLine = '';
  let phase: 'start' | 'epochs' | 'quantiles' = 'start';
  const phaseRss = { beforeEpochs: 0, epochEnd: 0, quantileMax: 0 };
  const lines: string[] = [];
  const seconds = () => (performance.now() - t0) / 1000;
  const sampler = setInterval(() => {
    try {
      // /usr/bin/time's one child is windcast.
      pid ||= Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]) || 0;
      if (!pid) return;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rss = mib(/VmRSS:\s+(\d+)/.exec(status)![1]!);
      anon = mib(/RssAnon:\s+(\d+)/.exec(status)![1]!);
    } catch {
      return; // not started yet, or gone
    }
    if (rss > peak) {
      peak = rss;
      peakDuring = lastLine;
    }
    if (phase === 'quantiles') phaseRss.quantileMax = Math.max(phaseRss.quantileMax, rss);
  }, 200);
  let stderr = '';
  const stamp = (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      lastLine = line.slice(0, 120);
      lines.push(`${seconds().toFixed(1)} s  rss ${rss.toFixed(0)}  anon ${anon.toFixed(0)} MiB | ${line}`);
      if (phase === 'start' && /^validation before training|^resume: /.test(line)) phaseRss.beforeEpochs = rss;
      if (phase === 'start' && /^train: /.test(line)) phase = 'epochs';
      if (/^epoch \d+\/\d+: /.test(line)) {
        phaseRss.epochEnd = rss;
        phase = 'quantiles';
      }
    }
  };
  child.stdout.on('data', stamp);
  child.stderr.on('data', stamp);
  return new Promise((done, fail) => {
    child.on('exit', (code) => {
      clearInterval(sampler);
      rmSync(models, { recursive: true, force: true });
      if (code !== 0) return fail(new Error(`${variant}: exit ${code}\n${stderr.slice(-2000)}`));
      const max = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const epoch = /^epoch \d+\/\d+: .*?, (\d+) samples\/s/m.exec(stderr);
      const cpu = ['User', 'System'].map((k) => Number(new RegExp(`${k} time \\(seconds\\): ([\\d.]+)`).exec(stderr)?.[1] ?? NaN));
      const at = (re: RegExp) => Number(/^([\d.]+) s/.exec(lines.find((l) => re.test(l.split(' | ')[1] ?? '')) ?? '')?.[1] ?? NaN);
      if (!max || !epoch) return fail(new Error(`${variant}: cannot read peak RSS or samples/s\n${stderr.slice(-2000)}`));
      done({
        variant,
        maxRssMiB: mib(max[1]!),
        sampledPeakMiB: peak,
        peakDuring,
        beforeEpochsMiB: phaseRss.beforeEpochs,
        epochEndMiB: phaseRss.epochEnd,
        quantileMaxMiB: phaseRss.quantileMax,
        samplesPerSecond: Number(epoch[1]),
        quantileSeconds: at(/^quantile head: \d+ epochs/) - at(/^epoch \d+\/\d+: /),
        cpuSeconds: cpu[0]! + cpu[1]!,
        load: [load0, loadavg()[0]!],
        lines,
      });
    });
  });
}

const variants: [string, string][] = [['this', here], ...(opts.base ? [['base', resolve(opts.base)] as [string, string]] : [])];
const runs: Run[] = [];
for (let round = 1; round <= Number(opts.rounds); round++) {
  // Alternate the order each round, so a slow spell of the shared machine is spread over both.
  for (const [variant, checkout] of round % 2 ? variants : [...variants].reverse()) {
    const r = await runOnce(variant, checkout);
    runs.push(r);
    console.log(
      `round ${round} ${variant}: peak ${r.maxRssMiB.toFixed(0)} MiB (sampled ${r.sampledPeakMiB.toFixed(0)} during "${r.peakDuring}"); ` +
        `before the epochs ${r.beforeEpochsMiB.toFixed(0)}, epoch end ${r.epochEndMiB.toFixed(0)}, quantile phase max ${r.quantileMaxMiB.toFixed(0)} MiB; ` +
        `${r.samplesPerSecond} samples/s, quantile phase ${r.quantileSeconds.toFixed(1)} s, CPU ${r.cpuSeconds.toFixed(1)} s, load ${r.load[0].toFixed(2)} -> ${r.load[1].toFixed(2)}`,
    );
  }
}
// The cube's bytes: its float32 cache's values (the file less its header).
const cacheDir = join(resolve(opts.data), '.windcast-cache');
const cache = readdirSync(cacheDir).find((f) => /^cube-.*-float32\.bin$/.test(f));
const cubeMiB = cache ? statSync(join(cacheDir, cache)).size / 2 ** 20 : NaN;
console.log(`cube ${cubeMiB.toFixed(0)} MiB (its float32 cache file); 1.3 x = ${(1.3 * cubeMiB).toFixed(0)} MiB`);
for (const [variant] of variants) {
  const rs = runs.filter((r) => r.variant === variant);
  const span = (xs: number[], digits = 0) => `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}..${Math.max(...xs).toFixed(digits)}]`;
  console.log(
    `${variant}: peak ${span(rs.map((r) => r.maxRssMiB))} MiB = ${(median(rs.map((r) => r.maxRssMiB)) / cubeMiB).toFixed(3)} x cube; samples/s ${span(rs.map((r) => r.samplesPerSecond))}; ` +
      `quantile phase ${span(rs.map((r) => r.quantileSeconds), 1)} s; CPU ${span(rs.map((r) => r.cpuSeconds), 1)} s (${rs.length} runs)`,
  );
}
if (opts.timeline) writeFileSync(opts.timeline, runs.at(-1)!.lines.join('\n') + '\n');
