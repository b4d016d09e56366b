// A storm as one Slack message (README, "Storms"): every alert group of the storm named with its one-line verdict,
// grouped by verdict, the shared cause first when there is one. Edited as diagnoses land; each group's details are in
// the message's thread and its report page.
import { createHash } from "node:crypto";
import { nameFromGroupKey } from "../diagnosis/group-verdict.ts";
import { analyseStorm, verdictKey, verdictText } from "../diagnosis/storm.ts";
import type { StoredStorm, StormMember } from "../model/storm.ts";
import { ELLIPSIS, httpUrl, truncate } from "./alert-facts.ts";
import { escapeMrkdwn, SEVERITY_COLOUR, SLACK_LIMITS, type SlackBlock, type SlackMessage } from "./slack-blocks.ts";

export interface StormRenderOptions {
  /** The report page of a group's latest diagnosis, when reports are served (PUBLIC_URL). */
  reportLink?: (notificationId: string) => string | undefined;
  /** The storm's own page, when reports are served (PUBLIC_URL). */
  stormLink?: (stormId: string) => string | undefined;
}

/** Verdict sections shown before the rest are summed up in one line; the whole stays well under Slack's 50 blocks. */
const VERDICT_SECTIONS = 12;
/** Slack's unpublished total for a message's blocks is around 12,000 characters (slack-blocks.ts). */
const TOTAL_TEXT_BUDGET = 10_000;
const NAME_TEXT = 80;
const LINK_URL = 2000;

function memberName(member: StormMember): string {
  return member.latest?.verdict?.name ?? nameFromGroupKey(member.groupKey);
}

function memberMrkdwn(member: StormMember, options: StormRenderOptions, linked: boolean): string {
  const name = escapeMrkdwn(truncate(memberName(member), NAME_TEXT)).replace(/\|/g, "¦");
  const url = linked && member.latest !== null ? httpUrl(options.reportLink?.(member.latest.notificationId)) : undefined;
  const shown = url !== undefined && url.length <= LINK_URL ? `<${url}|${name}>` : name;
  return member.latest?.firing === false ? `~${shown}~ ✅` : shown;
}

/** `<!date^…>` shows the time in each reader's own time zone; the fallback is UTC. */
function slackTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short} {time_secs}|${new Date(ms).toISOString().replace("T", " ").slice(0, 19)} UTC>`;
}

/**
 * The names of one verdict's groups in `room` characters: each linked to its report while the links fit, the rest as
 * plain names (a signed link is some 150 characters), and when even those do not fit, how many more there are.
 */
function namesLine(members: StormMember[], options: StormRenderOptions, room: number): string {
  const plain = members.map((member) => memberMrkdwn(member, options, false));
  let plainAfter = plain.reduce((n, text) => n + text.length + 2, 0);
  const shown: string[] = [];
  let used = 0;
  for (const [i, member] of members.entries()) {
    plainAfter -= plain[i]!.length + 2;
    const linked = memberMrkdwn(member, options, true);
    const more = `${ELLIPSIS} and ${members.length - i} more`;
    if (used + linked.length + 2 + plainAfter <= room) {
      shown.push(linked);
      used += linked.length + 2;
    } else if (used + plain[i]!.length + 2 + (i < members.length - 1 ? more.length : 0) <= room) {
      shown.push(plain[i]!);
      used += plain[i]!.length + 2;
    } else {
      shown.push(more);
      break;
    }
  }
  return shown.join(", ");
}

/** " · <url|storm page>" when the storm's page is served and its URL fits in a link. */
function stormPageLink(stormId: string, options: StormRenderOptions): string {
  const url = httpUrl(options.stormLink?.(stormId));
  return url !== undefined && url.length <= LINK_URL ? ` · <${escapeMrkdwn(url).replace(/\|/g, "%7C")}|storm page>` : "";
}

function section(text: string): SlackBlock {
  return { type: "section", text: { type: "mrkdwn", text } };
}

export function renderSlackStormMessage(storm: StoredStorm, options: StormRenderOptions = {}): SlackMessage {
  const analysis = analyseStorm(storm.members.map((m) => ({ groupKey: m.groupKey, verdict: m.latest?.verdict ?? null })));
  const firing = storm.members.filter((m) => m.latest?.firing !== false).length;
  const where = storm.cluster === "" ? "" : ` in ${storm.cluster}`;
  const title = `🌩️ Storm${where}: ${storm.members.length} alert groups, ${firing} firing`;
  const blocks: SlackBlock[] = [
    { type: "header", text: { type: "plain_text", text: truncate(title, SLACK_LIMITS.headerText), emoji: true } },
  ];
  const shared = analysis.sharedCause;
  const lead =
    shared !== undefined
      ? `*Shared cause: ${escapeMrkdwn(shared.component)}* — ${escapeMrkdwn(shared.title)}. It explains ${shared.groups} of the ${analysis.groups} groups.`
      : "*No one cause on a shared component found* (yet): the groups by verdict below.";
  blocks.push(section(lead));
  const verdictBlocks: SlackBlock[] = [];

  let textUsed = title.length + lead.length;
  // The groups not diagnosed yet come last: they say nothing yet.
  const shares = [...analysis.verdicts].sort((a, b) => Number(a.verdict === null) - Number(b.verdict === null));
  for (const [i, share] of shares.entries()) {
    const members = storm.members.filter((m) => verdictKey(m.latest?.verdict ?? null) === share.key);
    const count = `${share.groups} ${share.groups === 1 ? "group" : "groups"}`;
    const heading = `*${count}: ${escapeMrkdwn(verdictText(share.verdict))}*`;
    const room = Math.min(SLACK_LIMITS.sectionText, TOTAL_TEXT_BUDGET - textUsed - 600) - heading.length - 1;
    if (i >= VERDICT_SECTIONS || room < 200) {
      const rest = shares.slice(i).reduce((n, s) => n + s.groups, 0);
      verdictBlocks.push(
        section(`${ELLIPSIS} and ${rest} more groups with ${shares.length - i} other verdicts (truncated); see the thread.`),
      );
      break;
    }
    const text = `${heading}\n${namesLine(members, options, room)}`;
    verdictBlocks.push(section(text));
    textUsed += text.length;
  }

  verdictBlocks.push({
    type: "context",
    elements: [
      {
        type: "mrkdwn",
        text: `First alert ${slackTime(storm.openedAt)} · last ${slackTime(storm.lastSeenAt)} · each group's diagnosis is in this thread${stormPageLink(storm.id, options)}`,
      },
    ],
  });
  const fallback = `Storm${where}: ${storm.members.length} alert groups${shared !== undefined ? `, ${shared.groups} point to ${shared.component}: ${shared.title}` : ""}`;
  const colour = firing === 0 ? SEVERITY_COLOUR.resolved : SEVERITY_COLOUR.critical;
  return { text: escapeMrkdwn(truncate(fallback, 3000)), blocks, attachments: [{ color: colour, blocks: verdictBlocks }] };
}

/**
 * What the storm's message says, as a digest: the same storm gives the same digest. Links are left out, since each
 * rendering signs them afresh with a later expiry, which alone is no news.
 */
export function stormMessageDigest(storm: StoredStorm): string {
  return createHash("sha256")
    .update(JSON.stringify(renderSlackStormMessage(storm)))
    .digest("hex")
    .slice(0, 16);
}
