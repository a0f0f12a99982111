import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-error.js';
import type { ServerContext } from './context.js';

/**
 * Only with `--debug`: the last prompt exactly as the model saw it (so tests can check the chat
 * layout the web UI produces), and the engine's counters (so tests can see that aborted
 * generations stop and the queue drains). Not for production: prompts may be private.
 */
export function registerDebugRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/debug/last-prompt', async () => {
    const ids = ctx.engine.lastPromptIds;
    if (ids === null) throw new ApiError(404, 'no prompt has been run yet', null, 'no_prompt');
    return { prompt_ids: ids, text: ctx.engine.tokenizer.decode(ids, { skipSpecialTokens: false }) };
  });
  app.get('/debug/stats', async () => ctx.engine.stats());
}
