// Unit tests of scripts/check-deps.mjs (the offline licence and ban check of the crate graph).
//   node --test tests/scripts/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { satisfied, check } from '../../scripts/check-deps.mjs';

test('SPDX expressions: OR needs one allowed licence, AND needs all', () => {
  assert.equal(satisfied('MIT'), true);
  assert.equal(satisfied('GPL-3.0'), false);
  assert.equal(satisfied('MIT OR GPL-3.0'), true);
  assert.equal(satisfied('MIT AND GPL-3.0'), false);
  assert.equal(satisfied('(MIT OR Apache-2.0) AND Unicode-3.0'), true);
  assert.equal(satisfied('(MIT OR Apache-2.0) AND GPL-2.0'), false);
  assert.equal(satisfied('Apache-2.0 WITH LLVM-exception OR GPL-2.0'), true);
  assert.equal(satisfied('GPL-2.0 WITH Classpath-exception-2.0'), false);
  assert.equal(satisfied('MIT/Apache-2.0'), true, 'the old slash spelling is OR');
  assert.equal(satisfied('LGPL-2.1-or-later'), false);
  assert.throws(() => satisfied('(MIT OR Apache-2.0'), /unbalanced/);
  assert.throws(() => satisfied('MIT OR'), /incomplete/);
});

test('the check reports bad licences, missing ones, other sources and banned crates', () => {
  const io = 'registry+https://github.com/rust-lang/crates.io-index';
  const result = check({
    resolve: { root: 'lab' },
    packages: [
      { id: 'lab', name: 'barriers-lab', version: '0.1.0', license: 'MIT', source: null },
      { id: 'a', name: 'a', version: '1.0.0', license: 'MIT OR Apache-2.0', source: io },
      { id: 'b', name: 'b', version: '1.0.0', license: 'GPL-3.0', source: io },
      { id: 'c', name: 'c', version: '1.0.0', license: null, license_file: 'LICENSE', source: io },
      { id: 'd', name: 'd', version: '1.0.0', license: 'MIT', source: 'git+https://example.org/d' },
      { id: 'e', name: 'openssl', version: '0.10.0', license: 'Apache-2.0', source: io },
      { id: 'f', name: 'a', version: '2.0.0', license: 'MIT', source: io },
    ],
  });
  assert.equal(result.problems.length, 4, result.problems.join('\n'));
  assert.match(result.problems.join('\n'), /b 1\.0\.0: licence "GPL-3\.0"/);
  assert.match(result.problems.join('\n'), /c 1\.0\.0: declares no licence/);
  assert.match(result.problems.join('\n'), /d 1\.0\.0: not from crates\.io/);
  assert.match(result.problems.join('\n'), /openssl 0\.10\.0: banned/);
  assert.deepEqual(result.duplicates, ['a 1.0.0, 2.0.0']);
});
