import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GenerationError } from '../../src/errors.js';
import { StopStringFilter } from '../../src/generation/stop.js';

describe('StopStringFilter', () => {
  it('passes text through when there are no stop strings', () => {
    const f = new StopStringFilter();
    assert.equal(f.push('abc'), 'abc');
    assert.equal(f.flush(), '');
  });

  it('holds back a possible prefix and stops before a stop string spanning pushes', () => {
    const f = new StopStringFilter(['\nHuman:']);
    assert.equal(f.push('Hel'), 'Hel');
    assert.equal(f.push('lo\nHu'), 'lo'); // "\nHu" might start the stop string
    assert.equal(f.stopped, false);
    assert.equal(f.push('man: more'), '');
    assert.equal(f.stopped, true);
    assert.equal(f.text, 'Hello');
    assert.equal(f.push('ignored'), '');
    assert.equal(f.flush(), '');
  });

  it('releases held text once it can no longer start a stop string', () => {
    const f = new StopStringFilter(['\nHuman:']);
    assert.equal(f.push('a\nH'), 'a');
    assert.equal(f.push('i'), '\nHi');
    assert.equal(f.push('\n'), '');
    assert.equal(f.flush(), '\n');
    assert.equal(f.text, 'a\nHi\n');
  });

  it('the earliest stop string wins, whatever the list order', () => {
    assert.equal(new StopStringFilter(['END', 'x']).push('abEND x'), 'ab');
    assert.equal(new StopStringFilter(['x', 'END']).push('abEND x'), 'ab');
  });

  it('holds back per stop string and releases held text that precedes a later stop', () => {
    const g = new StopStringFilter(['END', 'ab']);
    assert.equal(g.push('zzaEN'), 'zza'); // "EN" could start "END"
    assert.equal(g.push('b'), 'ENb');
    assert.equal(g.push('a'), ''); // "a" could start "ab"
    assert.equal(g.push('END'), 'a'); // "aEND": the held "a" is text, "END" stops
    assert.equal(g.text, 'zzaENba');
  });

  it('rejects empty stop strings', () => {
    assert.throws(() => new StopStringFilter(['']), GenerationError);
  });
});
