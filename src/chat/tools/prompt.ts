import { ChatError } from '../../errors.js';
import type { ChatFormat } from '../format.js';
import type { ChatMessage } from '../messages.js';
import type { JsonSchema, ToolSpec } from './schema.js';

/**
 * XVERSE's plugin prompt (spec §5.1 step 1), what is fact and what is our choice:
 *
 * Facts (XVERSE-13B README "Function Call" example, summarised in spec §5.1):
 * - the zh instruction text below (ZH_TOOLS_INSTRUCTION), ending in `：`, asking for a JSON call with
 *   `api_name`, `url`, `parameters` between `<|startofthink|>` and `<|endofthink|>`;
 * - one plugin per line, numbered `N. `, each a JSON object `{"name", "description", "parameters"}`
 *   whose parameters are a list of `{"name", "description", "required"}`;
 * - a final line `当前时间：YYYY-MM-DD hh:mm:ss`; the user's question follows on the next line.
 *
 * [U] unverified choices (ours):
 * - separators: `JSON.stringify`-like with `", "` / `": "` spacing (the README is inconsistent,
 *   e.g. `"...","parameters"`); `required` as a JSON boolean (the README mixes `true`, `"True"` and
 *   omission), always present;
 * - JSON-schema `type` (when not "string") and `enum` are appended to the parameter description,
 *   since the list form has no field for them; nested schemas are not expanded;
 * - `"url"` is listed after `"name"` only when the ToolSpec has one;
 * - the time is the local time of `now`;
 * - the English instruction (ENGLISH_TOOLS_INSTRUCTION) is our translation, not XVERSE's.
 */
export const ZH_TOOLS_INSTRUCTION =
  '你是个大语言模型，有多种能力，可以通过插件集成api来回复用户的问题，还能解答用户使用模型遇到的问题和模型知识相关问答。' +
  '目前支持的插件信息如下，请自行判断是否需要调用插件来解决当前用户问题。' +
  '若需要调用插件，则需要将插件调用请求按照json格式给出，必须包含api_name、url、parameters字段，' +
  '并在其前后使用<|startofthink|>和<|endofthink|>作为标志。然后你需要根据插件API调用结果生成合理的答复；' +
  '若无需调用插件，则直接给出对应回复即可：';

/** Our English rendering of the instruction (not XVERSE's text; the model was trained on the zh one). */
export const ENGLISH_TOOLS_INSTRUCTION =
  'You are a large language model with many abilities: you can answer user questions by calling APIs through plugins, ' +
  'and answer questions about using models and model knowledge. The supported plugins are listed below; decide ' +
  'yourself whether a plugin is needed to solve the current user question. If one is needed, give the plugin call ' +
  'request in JSON format, which must contain the fields api_name, url and parameters, and put <|startofthink|> ' +
  'before it and <|endofthink|> after it. Then produce a reasonable answer from the result of the plugin API call; ' +
  'if no plugin is needed, answer directly:';

export interface ToolsPromptOptions {
  /** The time on the `当前时间` line (default: now). */
  now?: Date;
  /** Which built-in instruction text and labels to use (default 'zh', XVERSE's). */
  language?: 'zh' | 'en';
  /** Replaces the instruction paragraph (the text before the numbered plugin list). */
  instruction?: string;
  /** Leave out the current-time line (default: included, as in XVERSE's README). */
  includeTime?: boolean;
}

const LABELS = {
  zh: { time: '当前时间：', type: '类型', oneOf: '可选值', colon: '：', list: '、', open: '（', sep: '；', close: '）' },
  en: { time: 'Current time: ', type: 'type', oneOf: 'one of', colon: ': ', list: ', ', open: ' (', sep: '; ', close: ')' },
} as const;

/** The plugin prompt for `tools` (see the fact/[U] notes above). */
export function renderToolsPrompt(tools: readonly ToolSpec[], options: ToolsPromptOptions = {}): string {
  const language = options.language ?? 'zh';
  const instruction = options.instruction ?? (language === 'zh' ? ZH_TOOLS_INSTRUCTION : ENGLISH_TOOLS_INSTRUCTION);
  const lines = [instruction, ...tools.map((tool, i) => `${i + 1}. ${renderTool(tool, language)}`)];
  if (options.includeTime !== false) lines.push(`${LABELS[language].time}${formatTime(options.now ?? new Date())}`);
  return lines.join('\n');
}

function renderTool(tool: ToolSpec, language: 'zh' | 'en'): string {
  const required = tool.parameters.required ?? [];
  const parameters = Object.entries(tool.parameters.properties ?? {}).map(([name, schema]) => ({
    name,
    description: describeParameter(schema, language),
    required: required.includes(name),
  }));
  const entry = tool.url === undefined
    ? { name: tool.name, description: tool.description, parameters }
    : { name: tool.name, url: tool.url, description: tool.description, parameters };
  return spacedJson(entry);
}

/** The property's description plus what the list form cannot say otherwise: a non-string type, an enum. */
function describeParameter(schema: JsonSchema, language: 'zh' | 'en'): string {
  const labels = LABELS[language];
  const notes: string[] = [];
  const type = Array.isArray(schema.type) ? schema.type.join('|') : schema.type;
  if (typeof type === 'string' && type !== 'string') notes.push(`${labels.type}${labels.colon}${type}`);
  if (Array.isArray(schema.enum)) notes.push(`${labels.oneOf}${labels.colon}${schema.enum.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(labels.list)}`);
  const description = typeof schema.description === 'string' ? schema.description : '';
  if (notes.length === 0) return description;
  return `${description}${labels.open}${notes.join(labels.sep)}${labels.close}`;
}

/** JSON with Python json.dumps' default spacing (`, ` and `: `), which the README's lines mostly use. */
function spacedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(spacedJson).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${spacedJson(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

/** `YYYY-MM-DD hh:mm:ss` in local time, as Python's `datetime.now().strftime('%Y-%m-%d %H:%M:%S')`. */
export function formatTime(date: Date): string {
  const p = (n: number, width = 2): string => String(n).padStart(width, '0');
  return `${p(date.getFullYear(), 4)}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

/** Where the plugin prompt goes: the system message (v2) or the start of the first user turn (README). */
export type ToolPromptPlacement = 'auto' | 'system' | 'first-user';

export interface WithToolsOptions extends ToolsPromptOptions {
  /** Default 'auto': 'system' for the v2 format, 'first-user' for v1 (which has no system role). */
  placement?: ToolPromptPlacement;
  /** The chat format the messages are for (default 'v2', the format of the models that call tools). */
  format?: ChatFormat;
}

/**
 * Returns a new message list with the plugin prompt added (the input is not modified; no tools →
 * an unchanged copy). As `system`: a new first message, or — [U] our choice — the prompt, a newline
 * and the existing system text when there is one. As the first user turn: the prompt, a newline and
 * the user's text, the layout of XVERSE's README example.
 */
export function withTools(messages: readonly ChatMessage[], tools: readonly ToolSpec[], options: WithToolsOptions = {}): ChatMessage[] {
  const out = [...messages];
  if (tools.length === 0) return out;
  const prompt = renderToolsPrompt(tools, options);
  const format = options.format ?? 'v2';
  const placement = options.placement ?? 'auto';
  const resolved = placement === 'auto' ? (format === 'v2' ? 'system' : 'first-user') : placement;
  if (resolved === 'system') {
    if (format === 'v1') throw new ChatError('the v1 chat format has no system message: place the tool prompt in the first user turn');
    const first = out[0];
    if (first?.role === 'system') out[0] = { role: 'system', content: `${prompt}\n${first.content}` };
    else out.unshift({ role: 'system', content: prompt });
    return out;
  }
  const index = out.findIndex((m) => m.role === 'user');
  if (index < 0) throw new ChatError('withTools: no user message to put the tool prompt in');
  out[index] = { role: 'user', content: `${prompt}\n${(out[index] as ChatMessage).content}` };
  return out;
}
