/**
 * The layout's promises, checked on the source tree: imports point down the pipeline with no
 * cycles (static or dynamic imports alike), and src/core imports nothing of ours outside it. A
 * worker file started by URL runs in its own module graph, so that URL is not an import edge.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts')) out.push(relative(ROOT, path).split('\\').join('/'));
  }
  return out;
}

/** Module -> the modules of ours it imports (import ... from, import()). */
function importGraph(): Map<string, string[]> {
  const files = sources(join(ROOT, 'src'));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const deps = [...text.matchAll(/(?:from|import\s*\()\s*'(\.{1,2}\/[^']+)\.js'/g)]
      .map((m) => posix.normalize(posix.join(dirname(file), `${m[1]}.ts`)))
      .filter((d) => files.includes(d));
    graph.set(file, deps);
  }
  return graph;
}

test('src/ has no import cycles, also not through dynamic imports', () => {
  const graph = importGraph();
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (node: string, stack: string[]) => {
    state.set(node, 'open');
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      if (state.get(dep) === 'open') cycles.push([...stack.slice(stack.indexOf(dep)), dep].join(' -> '));
      else if (!state.has(dep)) visit(dep, stack);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file, []);
  assert.deepEqual(cycles, []);
  assert.ok(graph.size > 30, `read ${graph.size} modules`);
});

test('src/core imports nothing of ours outside src/core', () => {
  const outside = [...importGraph()].flatMap(([file, deps]) =>
    file.startsWith('src/core/') ? deps.filter((d) => !d.startsWith('src/core/')).map((d) => `${file} -> ${d}`) : [],
  );
  assert.deepEqual(outside, []);
});

test('no module in src/ is over 500 lines, and every stage folder says what it owns', () => {
  const long = sources(join(ROOT, 'src'))
    .map((file) => ({ file, lines: readFileSync(join(ROOT, file), 'utf8').split('\n').length }))
    .filter((f) => f.lines > 500)
    .map((f) => `${f.file} (${f.lines} lines)`);
  assert.deepEqual(long, []);
  const folders = readdirSync(join(ROOT, 'src')).filter((name) => statSync(join(ROOT, 'src', name)).isDirectory());
  assert.ok(folders.length >= 10, `stage folders: ${folders.join(', ')}`);
  const silent = folders.filter((name) => {
    try {
      return readFileSync(join(ROOT, 'src', name, 'README.md'), 'utf8').split('\n').length < 3;
    } catch {
      return true;
    }
  });
  assert.deepEqual(silent, [], 'each src/<stage>/ has a README.md saying what it owns');
});
