// The pieces every rule-file schema is made of: ids, durations, bounded text.

export const ID = "^[a-z][a-z0-9_]*$";
export const DURATION = "^[0-9]+(ms|s|m|h)$";
export const text = { type: "string", minLength: 1, maxLength: 4000 } as const;
export const optionalText = { type: "string", minLength: 1, maxLength: 4000, nullable: true } as const;

export function parseDuration(value: string): number {
  const match = /^([0-9]+)(ms|s|m|h)$/.exec(value);
  if (!match) throw new Error(`invalid duration ${JSON.stringify(value)}: use a number and ms, s, m or h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
  return Number(match[1]) * unit;
}
