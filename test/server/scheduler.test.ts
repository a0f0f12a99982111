import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortedWhileQueuedError, QueueFullError, Scheduler } from '../../src/server/scheduler.js';

test('scheduler: at most `concurrency` run, the rest are admitted in FIFO order; a full line rejects', async () => {
  const s = new Scheduler(2, 3);
  const signal = new AbortController().signal;
  const order: number[] = [];
  const releases = await Promise.all([s.acquire(signal), s.acquire(signal)]);
  const waiting = [2, 3, 4].map((i) => s.acquire(signal).then((release) => { order.push(i); return release; }));
  assert.deepEqual([s.active, s.queued], [2, 3]);
  await assert.rejects(s.acquire(signal), QueueFullError);
  releases[0]!();
  releases[0]!(); // a second call is a no-op, not a second free slot
  await waiting[0];
  assert.deepEqual([s.active, s.queued, order], [2, 2, [2]]);
  releases[1]!();
  (await waiting[0])();
  const rest = await Promise.all(waiting.slice(1));
  assert.deepEqual(order, [2, 3, 4]);
  rest.forEach((release) => release());
  assert.deepEqual([s.active, s.queued], [0, 0]);
});

test('scheduler: a waiter whose signal fires leaves the line at once', async () => {
  const s = new Scheduler(1, 5);
  const release = await s.acquire(new AbortController().signal);
  const gone = new AbortController();
  const waiting = s.acquire(gone.signal);
  const next = s.acquire(new AbortController().signal);
  gone.abort();
  await assert.rejects(waiting, AbortedWhileQueuedError);
  assert.equal(s.queued, 1);
  release();
  (await next)();
  assert.deepEqual([s.active, s.queued], [0, 0]);
});
