// The shape of `series:` and `interval:` in a playbook test file (test-file.ts), with no imports of its own, so that
// test-file.ts can use it without importing what series.ts needs.

/** One entry of `series:`, as promtool's input_series writes it. */
export interface InputSeries {
  /** A series selector with `=` matchers only: `metric{label="value", …}`. */
  series: string;
  /** promtool's expanding notation: `a+bxn`, `a-bxn`, `axn`, `_`, `_xn`, plain numbers, separated by spaces. */
  values: string;
}

/** The schema of `series:` (a file's or a case's). */
export const seriesSchema = {
  type: "array",
  nullable: true,
  items: {
    type: "object",
    properties: { series: { type: "string", minLength: 1 }, values: { type: "string" } },
    required: ["series", "values"],
    additionalProperties: false,
  },
} as const;

/** The schema of `interval:` (a file's or a case's). */
export const intervalSchema = { type: "string", nullable: true } as const;
