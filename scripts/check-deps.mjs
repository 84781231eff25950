// Dependency hygiene, offline (the equivalent of `cargo deny check licenses bans`, which would
// need its own build of cargo-deny and an advisory database from the network): reads
// `cargo metadata --locked --offline` and fails when
//   - a crate's licence expression (SPDX: OR, AND, WITH, parentheses; the old "A/B" spelling is
//     OR) cannot be satisfied by the licences in ALLOWED, or a crate declares none;
//   - a crate comes from anywhere but crates.io (a git or path dependency other than the lab);
//   - a crate on the BANNED list is in the graph.
// Versions that appear twice are listed (as cargo-deny's `multiple-versions = "warn"`).
//   node scripts/check-deps.mjs [--json]
import { execFileSync } from 'node:child_process';

/** Licences the lab accepts for code compiled into it: permissive, compatible with MIT. */
export const ALLOWED = new Set([
  'MIT', 'MIT-0', 'Apache-2.0', 'Apache-2.0 WITH LLVM-exception', 'BSD-2-Clause', 'BSD-3-Clause',
  'ISC', 'Zlib', 'Unicode-3.0', 'Unicode-DFS-2016', 'Unlicense', 'CC0-1.0', '0BSD', 'BSL-1.0',
]);

/** Crates that must never be in the graph, with the reason. */
export const BANNED = {
  openssl: 'native TLS: the lab downloads nothing at run time, and it cannot build for wasm32',
  'openssl-sys': 'as openssl',
  'native-tls': 'as openssl',
};

/** Whether the SPDX expression `expr` is satisfied by licences in `allowed`. */
export function satisfied(expr, allowed = ALLOWED) {
  const tokens = expr
    .replace(/\s*\/\s*/g, ' OR ')
    .replace(/([()])/g, ' $1 ')
    .split(/\s+/)
    .filter(Boolean);
  let i = 0;
  const peek = () => tokens[i];
  const primary = () => {
    if (peek() === '(') {
      i++;
      const v = or();
      if (tokens[i++] !== ')') throw new Error(`unbalanced parentheses in "${expr}"`);
      return v;
    }
    let id = tokens[i++];
    if (id === undefined) throw new Error(`incomplete expression "${expr}"`);
    if (peek() === 'WITH') {
      i++;
      id = `${id} WITH ${tokens[i++]}`;
    }
    return allowed.has(id.replace(/\+$/, ''));
  };
  const and = () => {
    let v = primary();
    while (peek() === 'AND') {
      i++;
      v = primary() && v;
    }
    return v;
  };
  const or = () => {
    let v = and();
    while (peek() === 'OR') {
      i++;
      v = and() || v;
    }
    return v;
  };
  const v = or();
  if (i !== tokens.length) throw new Error(`unexpected "${tokens[i]}" in "${expr}"`);
  return v;
}

/** The problems (and duplicate versions) of the crates in `metadata`. */
export function check(metadata) {
  const problems = [];
  const versions = new Map();
  const root = metadata.resolve?.root;
  for (const p of metadata.packages) {
    const name = `${p.name} ${p.version}`;
    versions.set(p.name, [...(versions.get(p.name) ?? []), p.version]);
    if (p.id === root) continue;
    if (BANNED[p.name]) problems.push(`${name}: banned (${BANNED[p.name]})`);
    if (!p.source?.startsWith('registry+https://github.com/rust-lang/crates.io-index')) {
      problems.push(`${name}: not from crates.io (${p.source ?? 'a path'})`);
    }
    if (!p.license) {
      problems.push(`${name}: declares no licence${p.license_file ? ` (only a file: ${p.license_file})` : ''}`);
      continue;
    }
    try {
      if (!satisfied(p.license)) problems.push(`${name}: licence "${p.license}" is not allowed`);
    } catch (e) {
      problems.push(`${name}: ${e.message}`);
    }
  }
  const duplicates = [...versions].filter(([, v]) => v.length > 1).map(([n, v]) => `${n} ${v.join(', ')}`);
  return { crates: metadata.packages.length, problems, duplicates };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const metadata = JSON.parse(
    execFileSync('cargo', ['metadata', '--format-version', '1', '--locked', '--offline'], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    }),
  );
  const result = check(metadata);
  if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`check-deps: ${result.crates} crates, ${result.problems.length} problem(s), ${result.duplicates.length} crate(s) in more than one version`);
    for (const d of result.duplicates) console.log(`  versions: ${d}`);
    for (const p of result.problems) console.error(`  ${p}`);
  }
  process.exit(result.problems.length ? 1 : 0);
}
