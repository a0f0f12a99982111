/**
 * Function calling for XVERSE chat models (spec §5.1): tool definitions and a registry, the plugin
 * prompt, a streaming parser for `<|startofthink|>…<|endofthink|>` calls, and the agent loop.
 * The HTTP server builds OpenAI `tools` / `tool_calls` on these.
 */
export { ToolError } from './errors.js';
export { TOOL_NAME_PATTERN, validateToolSpec, type JsonSchema, type JsonSchemaObject, type ToolSpec } from './schema.js';
export { ToolRegistry, type RegisteredTool, type ToolHandler } from './registry.js';
export {
  ENGLISH_TOOLS_INSTRUCTION, ZH_TOOLS_INSTRUCTION, formatTime, renderToolsPrompt, withTools,
  type ToolPromptPlacement, type ToolsPromptOptions, type WithToolsOptions,
} from './prompt.js';
export {
  THINK_END, THINK_START, ToolCallParser, parseToolCalls,
  type ParsedToolCall, type ToolCallChunk, type ToolCallError, type ToolCallParserOptions,
} from './parser.js';
export { parseLenientJson, repairJson, RepairError, type LenientParse } from './json-repair.js';
export { chatModel, formatToolResult, runAgent, runToolCall, type AgentChatModel, type AgentOptions, type AgentResult } from './agent.js';
