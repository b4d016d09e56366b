// Query parameters as a v1.36 kube-apiserver converts them (k8s.io/apimachinery pkg/runtime/conversion.go, and
// metav1.Time's query parameter, Go's time.Parse with time.RFC3339), refusing what it refuses with Go's own words.

/** A parameter the API server answers 400 BadRequest for, with this message. */
export class QueryParameterError extends Error {}

/** Convert_Slice_string_To_bool: absent is false; "0" and "false" (any case) are false; anything else, even "", true. */
export function queryBool(text: string | undefined): boolean {
  if (text === undefined) return false;
  return !(text === "0" || text.toLowerCase() === "false");
}

const INT64_MAX = 2n ** 63n - 1n;

function goQuote(text: string): string {
  return JSON.stringify(text);
}

/** Convert_Slice_string_To_Pointer_int64: strconv.ParseInt(text, 10, 64), undefined when absent. */
export function queryInt64(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[-+]?\d+$/.test(text)) throw new QueryParameterError(`strconv.ParseInt: parsing ${goQuote(text)}: invalid syntax`);
  const value = BigInt(text);
  if (value > INT64_MAX || value < -INT64_MAX - 1n)
    throw new QueryParameterError(`strconv.ParseInt: parsing ${goQuote(text)}: value out of range`);
  return Number(value);
}

const RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00";

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(month: number, year: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 31);
}

/**
 * time.Parse(time.RFC3339, text), as metav1.Time reads a query parameter ("" and "null" are the zero time, returned as
 * undefined): the time, or Go's error ("parsing time "x" as
 * "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"", "...: month out of range").
 */
export function queryTime(text: string): Date | undefined {
  if (text === "" || text === "null") return undefined;
  const cannotParse = (rest: string, element: string) =>
    new QueryParameterError(
      `parsing time ${goQuote(text)} as ${goQuote(RFC3339_LAYOUT)}: cannot parse ${goQuote(rest)} as ${goQuote(element)}`,
    );
  const outOfRange = (what: string) => new QueryParameterError(`parsing time ${goQuote(text)}: ${what} out of range`);
  let rest = text;
  /** getnum: one or two digits; exactly two when `fixed`. */
  const number = (element: string, fixed: boolean): number => {
    const two = /^\d\d/.exec(rest);
    const one = /^\d/.exec(rest);
    const digits = two?.[0] ?? (fixed ? undefined : one?.[0]);
    if (digits === undefined) throw cannotParse(rest, element);
    rest = rest.slice(digits.length);
    return Number(digits);
  };
  const literal = (expected: string): void => {
    if (!rest.startsWith(expected)) throw cannotParse(rest, expected);
    rest = rest.slice(expected.length);
  };
  const yearText = rest.slice(0, 4);
  if (!/^\d{4}$/.test(yearText)) throw cannotParse(rest, "2006");
  const year = Number(yearText);
  rest = rest.slice(4);
  literal("-");
  const month = number("01", true);
  if (month < 1 || month > 12) throw outOfRange("month");
  literal("-");
  const day = number("02", true);
  if (day > 31) throw outOfRange("day");
  literal("T");
  const hour = number("15", false);
  if (hour >= 24) throw outOfRange("hour");
  literal(":");
  const minute = number("04", true);
  if (minute >= 60) throw outOfRange("minute");
  literal(":");
  const second = number("05", true);
  if (second >= 60) throw outOfRange("second");
  let nanos = 0;
  const fraction = /^[.,](\d+)/.exec(rest);
  if (fraction?.[1]) {
    nanos = Number(`0.${fraction[1]}`) * 1e9;
    rest = rest.slice(fraction[0].length);
  }
  let offsetMinutes = 0;
  if (rest.startsWith("Z")) {
    rest = rest.slice(1);
  } else {
    const zone = /^([+-])(\d\d):(\d\d)/.exec(rest);
    if (!zone) throw cannotParse(rest, "Z07:00");
    const [, sign, hh, mm] = zone;
    if (Number(hh) > 24) throw outOfRange("time zone offset hour");
    if (Number(mm) > 60) throw outOfRange("time zone offset minute");
    offsetMinutes = (sign === "-" ? -1 : 1) * (Number(hh) * 60 + Number(mm));
    rest = rest.slice(zone[0].length);
  }
  if (rest !== "") throw new QueryParameterError(`parsing time ${goQuote(text)}: extra text: ${goQuote(rest)}`);
  if (day < 1 || day > daysIn(month, year)) throw outOfRange("day");
  const utc = Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000;
  return new Date(utc + Math.floor(nanos / 1e6));
}
