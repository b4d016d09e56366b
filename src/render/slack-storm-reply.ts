// A group of a storm has no message of its own in the channel: its story is told in the storm message's thread, as
// its headline message and its details in one reply when they fit, else in two.
import { groupVerdictOf } from "../diagnosis/group-verdict.ts";
import type { Diagnosis } from "../model/diagnosis.ts";
import { truncate } from "./alert-facts.ts";
import { escapeMrkdwn, renderSlackMessage, SLACK_LIMITS, type SlackBlock, textLength } from "./slack-blocks.ts";
import { renderResolvedReply, renderSlackThreadReply, type SlackThreadReply } from "./slack-thread.ts";

/** Slack's unpublished total for a message's blocks is around 12,000 characters (slack-blocks.ts). */
const TOTAL_TEXT_BUDGET = 11_000;

export type StormThreadReply = SlackThreadReply & { attachments?: unknown[] };

export function renderStormGroupReplies(d: Diagnosis, options: { changed?: boolean } = {}): StormThreadReply[] {
  // The storm line says what the thread's parent already says.
  const message = renderSlackMessage({ ...d, storm: undefined });
  const details = renderSlackThreadReply(d, options);
  const [attachment] = message.attachments;
  // Many groups share the thread: each reply opens with the group it is about.
  const named: SlackBlock[] = [
    { type: "section", text: { type: "mrkdwn", text: `*${escapeMrkdwn(truncate(groupVerdictOf(d).name, 200))}*` } },
    ...message.blocks,
  ];
  const together: SlackBlock[] = [...named, ...attachment.blocks, { type: "divider" }, ...details.blocks];
  if (together.length <= SLACK_LIMITS.blocksPerMessage && textLength(together) <= TOTAL_TEXT_BUDGET)
    return [{ text: message.text, blocks: together }];
  return [{ text: message.text, blocks: named, attachments: message.attachments }, details];
}

/** "✅ report-exporter: Resolved after 23m": in a thread many groups share, the reply names its group. */
export function renderStormGroupResolved(d: Diagnosis, firstSeenAt?: string): SlackThreadReply {
  const resolved = renderResolvedReply(d, firstSeenAt);
  const name = truncate(groupVerdictOf(d).name, 200);
  const text = resolved.text.replace(/^(\S+) /, (_, emoji: string) => `${emoji} ${name}: `);
  return {
    text,
    blocks: [{ type: "section", text: { type: "mrkdwn", text: escapeMrkdwn(text) } }],
  };
}
