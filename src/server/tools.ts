import { THINK_END, THINK_START, ToolError, validateToolSpec, type ParsedToolCall, type ToolSpec } from '../chat/tools/index.js';
import { badRequest } from './api-error.js';

/** What the chat route needs to know about a request's tools. */
export interface ToolSetup {
  /** Tools to describe in the prompt (empty: none, or tool_choice "none"). */
  specs: ToolSpec[];
}

/**
 * OpenAI's `tools` (`[{type: "function", function: {name, description, parameters}}]`) → the tools
 * library's ToolSpecs, checked; and `tool_choice`. The model decides by itself whether to call a
 * tool (XVERSE's prompt says so), so only "auto" and "none" can be honoured: forcing a call
 * ("required", a named function) is refused rather than silently not done.
 */
export function toolSetup(tools: readonly unknown[] | null | undefined, toolChoice: unknown): ToolSetup {
  if (toolChoice != null && toolChoice !== 'auto' && toolChoice !== 'none') {
    throw badRequest('tool_choice', 'only "auto" and "none" are supported (the model decides whether to call a tool)');
  }
  if (!tools || tools.length === 0 || toolChoice === 'none') return { specs: [] };
  const specs = tools.map((tool, i) => {
    const t = tool as { type?: unknown; function?: Record<string, unknown> } | null;
    if (typeof t !== 'object' || t === null || t.type !== 'function' || typeof t.function !== 'object' || t.function === null) {
      throw badRequest(`tools[${i}]`, 'expected {"type": "function", "function": {"name", "description", "parameters"}}');
    }
    const spec = {
      name: t.function['name'],
      description: t.function['description'] ?? '',
      parameters: t.function['parameters'] ?? { type: 'object', properties: {} },
    };
    try {
      validateToolSpec(spec);
    } catch (err) {
      if (err instanceof ToolError) throw badRequest(`tools[${i}].function`, err.message);
      throw err;
    }
    return spec;
  });
  const names = new Set<string>();
  specs.forEach((s, i) => {
    if (names.has(s.name)) throw badRequest(`tools[${i}].function.name`, `duplicate tool name "${s.name}"`);
    names.add(s.name);
  });
  return { specs };
}

/**
 * An assistant turn's `tool_calls` written back as the model wrote them (spec §5.1), so the
 * history the model sees holds its own call: `<|startofthink|>```JSON {"api_name", "parameters"}```<|endofthink|>`.
 */
export function renderToolCalls(calls: readonly unknown[], messageIndex: number, before: string): string {
  // The model writes its call on a line of its own after any text; a content already ending in a
  // newline (as the model's own reply did) gets no extra one.
  let separator = before === '' || before.endsWith('\n') ? '' : '\n';
  return calls.map((call, j) => {
    const where = `messages[${messageIndex}].tool_calls[${j}]`;
    const c = call as { function?: { name?: unknown; arguments?: unknown } } | null;
    const name = c?.function?.name;
    if (typeof name !== 'string') throw badRequest(`${where}.function.name`, 'must be a string');
    let parameters: unknown = {};
    const args = c?.function?.arguments;
    if (typeof args === 'string' && args.trim() !== '') {
      try {
        parameters = JSON.parse(args);
      } catch {
        throw badRequest(`${where}.function.arguments`, 'must be a JSON object encoded as a string');
      }
    } else if (typeof args === 'object' && args !== null) {
      parameters = args;
    }
    const sep = separator;
    separator = '';
    return `${sep}${THINK_START}\`\`\`JSON\n${JSON.stringify({ api_name: name, parameters })}\n\`\`\`${THINK_END}`;
  }).join('');
}

/** A parsed call in OpenAI's `tool_calls[]` shape (`index` only in stream deltas). */
export function openAiToolCall(call: ParsedToolCall, index?: number): { index?: number; id: string; type: 'function'; function: { name: string; arguments: string } } {
  return { ...(index === undefined ? {} : { index }), id: call.id, type: 'function', function: { name: call.name, arguments: call.argumentsJson } };
}
