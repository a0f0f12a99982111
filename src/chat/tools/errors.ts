import { ChatError } from '../../errors.js';

/** A tool definition or registry operation that cannot be accepted (bad name, duplicate, bad schema). */
export class ToolError extends ChatError {}
