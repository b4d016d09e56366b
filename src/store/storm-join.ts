// What joining a storm writes, the same for every store: each group once, at its earliest first receipt.

export interface StormJoin {
  /** One per group key, with the earliest firstReceivedAt given for it (epoch ms). */
  members: { groupKey: string; firstReceivedAt: number }[];
  /** The earliest firstReceivedAt of all members; `at` when there are none. */
  earliest: number;
  at: number;
  windowMs: number;
}

export function stormJoin(input: { groups: { groupKey: string; firstReceivedAt: Date }[]; at: Date; windowMs: number }): StormJoin {
  const at = validTime(input.at, "at");
  if (!Number.isFinite(input.windowMs))
    throw new Error(`cannot join a storm: the storm window ${input.windowMs} is not a number of milliseconds`);
  const members = new Map<string, number>();
  for (const group of input.groups) {
    const firstReceivedAt = validTime(group.firstReceivedAt, `the first receipt of ${group.groupKey}`);
    const known = members.get(group.groupKey);
    if (known === undefined || firstReceivedAt < known) members.set(group.groupKey, firstReceivedAt);
  }
  const times = [...members.values()];
  return {
    members: [...members].map(([groupKey, firstReceivedAt]) => ({ groupKey, firstReceivedAt })),
    earliest: times.length === 0 ? at : Math.min(...times),
    at,
    windowMs: Math.max(0, input.windowMs),
  };
}

function validTime(date: Date, what: string): number {
  const time = date.getTime();
  if (Number.isNaN(time)) throw new Error(`cannot join a storm: ${what} is not a valid date`);
  return time;
}
