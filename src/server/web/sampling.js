// Reads the sampling controls of a page into request fields. An empty box means "server default",
// so the field is left out of the request rather than sent as 0 or null.
import { authHeaders } from './auth.js';

/**
 * @param {Iterable<HTMLInputElement>} inputs elements whose `name` is the API field name
 * @returns {Record<string, number>}
 */
export function samplingParams(inputs) {
  /** @type {Record<string, number>} */
  const params = {};
  for (const input of inputs) {
    if (input.value.trim() === '') continue;
    const value = Number(input.value);
    if (Number.isFinite(value)) params[input.name] = value;
  }
  return params;
}

/** @type {string | null} */
let cachedModelId = null;

/**
 * The id of the model the server serves (the OpenAI API requires `model` in requests), asked for
 * before each request until it is known (the first try may lack a needed API key); null when the
 * list cannot be read, and the request then goes without it (its error will say why).
 * @returns {Promise<string | null>}
 */
export async function servedModelId() {
  if (cachedModelId !== null) return cachedModelId;
  try {
    const response = await fetch('/v1/models', { headers: authHeaders() });
    if (!response.ok) return null;
    const body = await response.json();
    if (typeof body?.data?.[0]?.id === 'string') cachedModelId = body.data[0].id;
  } catch {
    // unreachable server: the request that follows reports it
  }
  return cachedModelId;
}
