import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-error.js';
import type { ServerContext } from './context.js';

/** `GET /v1/models` and `GET /v1/models/:id`: the one model this server holds. */
export function registerModelRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const created = Math.floor(Date.now() / 1000);
  const card = { id: ctx.modelId, object: 'model', created, owned_by: 'xverse-ts', context_length: ctx.engine.contextLength };
  app.get('/v1/models', async () => ({ object: 'list', data: [card] }));
  app.get<{ Params: { id: string } }>('/v1/models/:id', async (request) => {
    if (request.params.id !== ctx.modelId) throw new ApiError(404, `The model '${request.params.id}' does not exist`, 'model', 'model_not_found');
    return card;
  });
}
