import { ToolError } from './errors.js';
import { validateToolSpec, type ToolSpec } from './schema.js';

/** Runs a tool: receives the parsed arguments, returns a JSON-serializable result (or a string). */
export type ToolHandler = (args: Record<string, unknown>) => Promise<unknown> | unknown;

export interface RegisteredTool {
  readonly spec: ToolSpec;
  readonly handler?: ToolHandler;
}

/**
 * The tools an agent or a server request may call, by unique name, in registration order (the
 * order they are numbered in the plugin prompt). Specs are validated on registration and copied, so
 * later changes to the caller's object cannot make a registered tool invalid.
 */
export class ToolRegistry {
  private readonly tools = new Map<string, RegisteredTool>();

  constructor(tools: Iterable<ToolSpec | RegisteredTool> = []) {
    for (const tool of tools) {
      if ('spec' in tool) this.register(tool.spec, tool.handler);
      else this.register(tool);
    }
  }

  register(spec: ToolSpec, handler?: ToolHandler): this {
    validateToolSpec(spec);
    if (this.tools.has(spec.name)) throw new ToolError(`tool "${spec.name}" is already registered`);
    if (handler !== undefined && typeof handler !== 'function') throw new ToolError(`tool "${spec.name}": handler must be a function`);
    const copy: ToolSpec = structuredClone(spec);
    this.tools.set(spec.name, handler === undefined ? { spec: copy } : { spec: copy, handler });
    return this;
  }

  get(name: string): RegisteredTool | undefined {
    return this.tools.get(name);
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  /** The specs, in registration order. */
  list(): ToolSpec[] {
    return [...this.tools.values()].map((t) => t.spec);
  }

  get size(): number {
    return this.tools.size;
  }
}
