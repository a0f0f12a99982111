import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { downloadProgressBars, formatSize } from '../../src/cli/download-progress.js';

/** A writable that claims to be a terminal, collecting what is drawn. */
function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; output: () => string } {
  const pass = new PassThrough();
  let text = '';
  pass.on('data', (d: Buffer) => (text += d.toString('utf8')));
  Object.assign(pass, { isTTY, columns: 120, rows: 40 });
  return { stream: pass as unknown as NodeJS.WriteStream, output: () => text };
}

describe('download progress bars', () => {
  it('draw nothing when stderr is not a terminal', () => {
    assert.equal(downloadProgressBars(fakeStream(false).stream), undefined);
  });

  it('draw a bar per file and an overall bar on a terminal', async () => {
    const { stream, output } = fakeStream(true);
    const display = downloadProgressBars(stream)!;
    display.onProgress({ file: 'model.safetensors', state: 'downloading', fileBytes: 500_000, fileTotal: 2_000_000, bytes: 600_000, totalBytes: 2_100_000, filesDone: 1, filesTotal: 2 });
    await new Promise((resolve) => setTimeout(resolve, 250)); // cli-progress redraws on a timer
    display.stop();
    const text = output();
    assert.match(text, /25% 500\.0 kB\/2\.0 MB model\.safetensors/);
    assert.match(text, /600\.0 kB\/2\.1 MB total \(1\/2 files\)/);
  });

  it('formats sizes', () => {
    assert.deepEqual([12, 1_500, 2_500_000, 27_000_000_000].map(formatSize), ['12 B', '1.5 kB', '2.5 MB', '27.00 GB']);
  });
});
