import { ToolError } from './errors.js';

/**
 * The subset of JSON Schema that OpenAI-style function definitions use. Unknown keywords are kept
 * (the index signature) so a schema passes through unchanged; only the keywords below are read.
 */
export interface JsonSchema {
  type?: string | readonly string[];
  description?: string;
  enum?: readonly unknown[];
  items?: JsonSchema;
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  [keyword: string]: unknown;
}

/** A function's parameters: an object schema whose `properties` are the arguments. */
export interface JsonSchemaObject extends JsonSchema {
  type?: 'object';
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
}

/** One callable tool, in OpenAI's `function` shape (plus XVERSE's optional plugin `url`). */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: JsonSchemaObject;
  /** XVERSE's plugin prompt asks the model to echo a `url`; listed in the prompt when given. */
  url?: string;
}

/**
 * OpenAI's rule for function names. The server forwards these names to OpenAI-compatible clients,
 * so the library enforces the same rule rather than a looser one the server would have to re-check.
 */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws ToolError (one line, naming the field) unless `spec` is a usable ToolSpec. */
export function validateToolSpec(spec: unknown): asserts spec is ToolSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new ToolError('tool: expected an object with name, description, parameters');
  const { name, description, parameters, url } = spec as Record<string, unknown>;
  if (typeof name !== 'string' || !TOOL_NAME_PATTERN.test(name)) {
    throw new ToolError(`tool name ${JSON.stringify(name)} is invalid (1–64 characters of A–Z, a–z, 0–9, _ or -)`);
  }
  if (typeof description !== 'string') throw new ToolError(`tool "${name}": description must be a string`);
  if (url !== undefined && typeof url !== 'string') throw new ToolError(`tool "${name}": url must be a string`);
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    throw new ToolError(`tool "${name}": parameters must be a JSON-schema object`);
  }
  const { type, properties, required } = parameters as Record<string, unknown>;
  if (type !== undefined && type !== 'object') throw new ToolError(`tool "${name}": parameters.type must be "object", got ${JSON.stringify(type)}`);
  if (properties !== undefined && (typeof properties !== 'object' || properties === null || Array.isArray(properties))) {
    throw new ToolError(`tool "${name}": parameters.properties must be an object`);
  }
  if (required !== undefined) {
    if (!Array.isArray(required) || !required.every((r): r is string => typeof r === 'string')) {
      throw new ToolError(`tool "${name}": parameters.required must be a list of property names`);
    }
    const known = Object.keys((properties ?? {}) as object);
    const missing = required.find((r) => !known.includes(r));
    if (missing !== undefined) throw new ToolError(`tool "${name}": required parameter "${missing}" is not in parameters.properties`);
  }
}
