// Slack's checks on a message body (text, blocks, attachments), shared by the webhook and Web API stand-ins (protocols.md 2.2).

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export interface BlockKitOptions {
  /**
   * Reject with `msg_blocks_too_long` when the blocks carry more text than this in total. Slack has such a limit but
   * does not publish it (reports say 12-13 k characters), so it is opt-in.
   */
  maxTotalBlockText?: number;
}

function textLength(value: unknown): number {
  return isObject(value) && typeof value.text === "string" ? value.text.length : 0;
}

/** Checks one text object; returns the problems found under `pointer`. */
function textObjectErrors(value: unknown, pointer: string, max: number, types: string[]): string[] {
  if (!isObject(value)) return [`${pointer}: must be a text object`];
  const errors: string[] = [];
  if (typeof value.type !== "string" || !types.includes(value.type)) errors.push(`${pointer}/type: must be one of ${types.join(", ")}`);
  if (typeof value.text !== "string") return [...errors, `${pointer}/text: required`];
  if (value.text.length < 1) errors.push(`${pointer}/text: must be at least 1 character`);
  if (value.text.length > max) errors.push(`${pointer}/text: must be less than ${max + 1} characters`);
  return errors;
}

function blockErrors(block: unknown, pointer: string): string[] {
  if (!isObject(block)) return [`${pointer}: must be an object`];
  const errors: string[] = [];
  if (block.block_id !== undefined && (typeof block.block_id !== "string" || block.block_id.length > 255)) {
    errors.push(`${pointer}/block_id: must be a string of at most 255 characters`);
  }
  switch (block.type) {
    case "header":
      errors.push(...textObjectErrors(block.text, `${pointer}/text`, 150, ["plain_text"]));
      break;
    case "section": {
      if (block.text === undefined && block.fields === undefined) errors.push(`${pointer}: must have text or fields`);
      if (block.text !== undefined) errors.push(...textObjectErrors(block.text, `${pointer}/text`, 3000, ["mrkdwn", "plain_text"]));
      if (block.fields !== undefined) {
        if (!Array.isArray(block.fields) || block.fields.length < 1 || block.fields.length > 10) {
          errors.push(`${pointer}/fields: must have 1 to 10 items`);
        } else {
          for (const [i, f] of block.fields.entries()) {
            errors.push(...textObjectErrors(f, `${pointer}/fields/${i}`, 2000, ["mrkdwn", "plain_text"]));
          }
        }
      }
      break;
    }
    case "context":
      if (!Array.isArray(block.elements) || block.elements.length < 1 || block.elements.length > 10) {
        errors.push(`${pointer}/elements: must have 1 to 10 items`);
      } else {
        for (const [i, e] of block.elements.entries()) {
          if (isObject(e) && e.type === "image") continue;
          errors.push(...textObjectErrors(e, `${pointer}/elements/${i}`, 3000, ["mrkdwn", "plain_text"]));
        }
      }
      break;
    case "actions": {
      if (!Array.isArray(block.elements) || block.elements.length < 1 || block.elements.length > 25) {
        errors.push(`${pointer}/elements: must have 1 to 25 items`);
        break;
      }
      const actionIds = new Set<string>();
      for (const [i, e] of block.elements.entries()) {
        const at = `${pointer}/elements/${i}`;
        if (!isObject(e) || e.type !== "button") continue;
        errors.push(...textObjectErrors(e.text, `${at}/text`, 75, ["plain_text"]));
        if (e.url !== undefined && (typeof e.url !== "string" || e.url.length > 3000))
          errors.push(`${at}/url: must be at most 3000 characters`);
        if (e.action_id !== undefined) {
          if (typeof e.action_id !== "string" || e.action_id.length > 255) errors.push(`${at}/action_id: must be at most 255 characters`);
          else if (actionIds.has(e.action_id)) errors.push(`${at}/action_id: must be unique in the block`);
          else actionIds.add(e.action_id);
        }
      }
      break;
    }
    case "divider":
    case "image":
    case "markdown":
    case "rich_text":
      break;
    default:
      errors.push(`${pointer}/type: unknown block type`);
  }
  return errors;
}

function blockText(block: unknown): number {
  if (!isObject(block)) return 0;
  const fields = Array.isArray(block.fields) ? block.fields.reduce<number>((n, f) => n + textLength(f), 0) : 0;
  const elements = Array.isArray(block.elements)
    ? block.elements.reduce<number>((n, e) => n + textLength(e) + (isObject(e) ? textLength(e.text) : 0), 0)
    : 0;
  return textLength(block.text) + fields + elements;
}

/**
 * Validates the message part of a body (`text`, `blocks`, `attachments`) as Slack does for a webhook post, chat.postMessage
 * and chat.update. The first element of the result is Slack's error code, the rest are the reasons as JSON pointers.
 */
export function messageProblems(body: Json, options: BlockKitOptions = {}): [string, ...string[]] | undefined {
  const hasText = typeof body.text === "string" && body.text !== "";
  const topBlocks: unknown[] = Array.isArray(body.blocks) ? body.blocks : [];
  const attachments: unknown[] = Array.isArray(body.attachments) ? body.attachments : [];
  if (body.blocks !== undefined && !Array.isArray(body.blocks)) return ["invalid_blocks", "/blocks: must be an array"];
  if (body.attachments !== undefined && !Array.isArray(body.attachments)) return ["invalid_payload", "/attachments: must be an array"];
  if (!hasText && topBlocks.length === 0 && attachments.length === 0) return ["no_text", "/text: text or blocks required"];

  const all: Array<[unknown, string]> = topBlocks.map((b, i) => [b, `/blocks/${i}`]);
  for (const [i, a] of attachments.entries()) {
    if (!isObject(a) || !Array.isArray(a.blocks)) continue;
    for (const [j, b] of a.blocks.entries()) all.push([b, `/attachments/${i}/blocks/${j}`]);
  }
  const errors: string[] = [];
  if (all.length > 50) errors.push(`/blocks: at most 50 blocks per message including attachments, got ${all.length}`);
  for (const [block, pointer] of all) errors.push(...blockErrors(block, pointer));
  if (errors.length > 0) return ["invalid_blocks", ...errors];
  if (options.maxTotalBlockText !== undefined) {
    const total = all.reduce((n, [block]) => n + blockText(block), 0);
    if (total > options.maxTotalBlockText) return ["msg_blocks_too_long", `blocks carry ${total} characters`];
  }
  return undefined;
}
