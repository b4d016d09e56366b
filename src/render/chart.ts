// An AlertChart as a line chart, in SVG and in PNG (through resvg, no browser): series, threshold, when the alert started.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import type { Resvg } from "@resvg/resvg-js";
import type { AlertChart, ChartComparison } from "../model/diagnosis.ts";

export interface ChartOptions {
  width?: number;
  height?: number;
  /** Replaces the title, which is the query, shortened. */
  title?: string;
}

export interface ChartPngOptions extends ChartOptions {
  /** The font to draw the text with; the first of FONT_CANDIDATES that exists unless told. */
  font?: ChartFont;
}

const DEFAULT_WIDTH = 800;
const DEFAULT_HEIGHT = 400;
const FONT_FAMILY = "DejaVu Sans, Liberation Sans, Noto Sans, Arial, Helvetica, sans-serif";
const FONT_SIZE = 12;
const TITLE_SIZE = 13;
/** Average advance of a character, in ems, for DejaVu Sans (the widest of the families above): text is cut to fit with it. */
const CHAR_WIDTH = 0.6;
const THRESHOLD_COLOUR = "#C0392B";
const FIRING_COLOUR = "#C0392B";
const AXIS_COLOUR = "#5F6368";
const GRID_COLOUR = "#E8EAED";
const TEXT_COLOUR = "#202124";

/** Okabe and Ito's colour-blind-safe palette (less yellow, which vanishes on white, and red, which is the threshold's), then darker companions. */
export const SERIES_COLOURS = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#56B4E9",
  "#D55E00",
  "#000000",
  "#7A5195",
  "#8C6D31",
  "#17BECF",
] as const;

/** The threshold's label: "fires above 1". */
const THRESHOLD_WORDS: Record<ChartComparison, string> = {
  ">": "fires above",
  ">=": "fires at or above",
  "<": "fires below",
  "<=": "fires at or below",
  "==": "fires at",
  "!=": "fires away from",
};

/** Labels that say most about a series, in the order a person looks for them. */
const TELLING_LABELS = ["job", "instance", "code", "namespace", "pod", "service", "host", "method", "resource", "verb", "le", "cluster"];

export interface ChartFont {
  /** The regular face first; a bold face after it makes the title bold. */
  files: string[];
  family: string;
}

/** Fonts Debian installs with fonts-dejavu-core, fonts-liberation and fonts-noto-core. */
export const FONT_CANDIDATES: readonly ChartFont[] = [
  {
    files: ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
    family: "DejaVu Sans",
  },
  {
    files: [
      "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
      "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ],
    family: "Liberation Sans",
  },
  {
    files: ["/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"],
    family: "Noto Sans",
  },
];

/** XML-escapes text for an attribute or an element, dropping the control characters XML 1.0 cannot carry at all. */
export function escapeXml(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- these characters are not allowed in XML, so they are removed
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&apos;")
  );
}

function fitText(text: string, widthPx: number, fontSize: number): string {
  const max = Math.max(1, Math.floor(widthPx / (fontSize * CHAR_WIDTH)));
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Splits text into at most `lines` lines that fit, breaking at spaces where it can; the last line ends in "…" if cut. */
function wrapText(text: string, widthPx: number, fontSize: number, lines: number): string[] {
  const max = Math.max(1, Math.floor(widthPx / (fontSize * CHAR_WIDTH)));
  const result: string[] = [];
  let rest = text;
  while (rest.length > 0 && result.length < lines) {
    if (rest.length <= max || result.length === lines - 1) {
      result.push(fitText(rest, widthPx, fontSize));
      break;
    }
    const space = rest.lastIndexOf(" ", max);
    const cut = space > max / 2 ? space : max;
    result.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers

/** 1, 2 or 5 times a power of ten, so ticks land on round values. */
function niceStep(span: number, targetTicks: number): number {
  const raw = span / Math.max(1, targetTicks);
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

const SUFFIXES: Array<[number, string]> = [
  [1e12, "T"],
  [1e9, "G"],
  [1e6, "M"],
  [1e3, "k"],
];

function trimZeros(text: string): string {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/**
 * How many decimals the multiples of `step` need to be written exactly: 0 for 25, 1 for 2.5, 3 for 0.075, 5 for 1e-5.
 * Counted from the step's significant digits (to 12, which drops floating-point noise such as 0.30000000000000004),
 * not from its order of magnitude, which gives 2.5 none and 0.075 two.
 */
export function stepDecimals(step: number): number {
  if (!Number.isFinite(step) || step === 0) return 0;
  const [mantissa = "", exponent = "0"] = Math.abs(step).toExponential(11).split("e");
  const digits = mantissa.replace(/0+$/, "").split(".")[1]?.length ?? 0;
  return Math.max(0, digits - Number(exponent));
}

/** A tick value with as many decimals as the step needs: 0.005, 2.5, 0.075, 12.5, 86.4k, 3M. */
export function formatTick(value: number, step: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  for (const [size, suffix] of SUFFIXES) {
    if (abs >= size) return `${trimZeros((value / size).toFixed(Math.min(20, stepDecimals(step / size))))}${suffix}`;
  }
  return trimZeros(value.toFixed(Math.min(20, stepDecimals(step))));
}

/** A value on its own (the threshold's label): four significant digits and a k/M suffix. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  for (const [size, suffix] of SUFFIXES) {
    if (abs >= size) return `${trimZeros((value / size).toPrecision(4))}${suffix}`;
  }
  if (abs !== 0 && abs < 1e-4) return value.toExponential(2);
  return trimZeros(value.toPrecision(4));
}

interface Scale {
  min: number;
  max: number;
  step: number;
  ticks: number[];
}

function valueScale(values: number[], threshold: number | undefined): Scale {
  const all = threshold !== undefined ? [...values, threshold] : values;
  let min = all.length > 0 ? Math.min(...all) : 0;
  let max = all.length > 0 ? Math.max(...all) : 1;
  // Rates, ratios and counts read best from zero.
  if (min >= 0) min = 0;
  else if (max <= 0) max = 0;
  if (max === min) {
    const pad = Math.abs(max) > 0 ? Math.abs(max) * 0.5 : 1;
    max += pad;
    if (min !== 0) min -= pad;
  }
  // Room above the highest value (and the threshold's label).
  const step = niceStep((max - min) * 1.08, 5);
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil((max + (max - min) * 0.04) / step - 1e-9) * step;
  const ticks: number[] = [];
  // Each tick a multiple of the step, not a running sum, so errors do not add up along the axis.
  const first = Math.round(lo / step);
  const last = Math.round(hi / step);
  for (let i = first; i <= last; i += 1) ticks.push(i === 0 ? 0 : i * step);
  return { min: lo, max: hi, step, ticks };
}

// ---------------------------------------------------------------------------------------------------------------
// Time

const MINUTE = 60_000;
const TIME_STEPS = [1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE);

function hhmm(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
}

function timeTicks(from: number, to: number, maxTicks: number): number[] {
  const span = Math.max(MINUTE, to - from);
  const step = TIME_STEPS.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / (1440 * MINUTE)) * 1440 * MINUTE;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return ticks;
}

// ---------------------------------------------------------------------------------------------------------------
// Legend

/** The labels that tell the series apart; for one series, the telling ones it has. */
export function legendLabels(chart: AlertChart): string[][] {
  const names = new Set(chart.series.flatMap((s) => Object.keys(s.labels)));
  names.delete("__name__");
  const varying = [...names].filter((name) => new Set(chart.series.map((s) => s.labels[name] ?? "")).size > 1);
  const rank = (name: string): number => {
    const i = TELLING_LABELS.indexOf(name);
    return i === -1 ? TELLING_LABELS.length : i;
  };
  let chosen = varying;
  if (chosen.length === 0) chosen = [...names].filter((name) => TELLING_LABELS.includes(name));
  if (chosen.length === 0) chosen = [...names];
  chosen.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return chart.series.map((s) => chosen.filter((name) => s.labels[name] !== undefined).map((name) => `${name}=${s.labels[name] ?? ""}`));
}

// ---------------------------------------------------------------------------------------------------------------

function n(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function text(x: number, y: number, content: string, attrs: string): string {
  return `<text x="${n(x)}" y="${n(y)}" ${attrs}>${escapeXml(content)}</text>`;
}

function shortQuery(query: string): string {
  return query.replace(/\s+/g, " ").trim();
}

/** The chart as a standalone SVG document; every piece of alert data in it is escaped. */
export function renderChartSvg(chart: AlertChart, options: ChartOptions = {}): string {
  const width = Math.max(200, Math.round(options.width ?? DEFAULT_WIDTH));
  const height = Math.max(150, Math.round(options.height ?? DEFAULT_HEIGHT));
  const series = chart.series.map((s) => ({
    labels: s.labels,
    points: s.points.map((p) => ({ t: Date.parse(p.t), v: p.v })).filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)),
  }));
  const times = series.flatMap((s) => s.points.map((p) => p.t));
  const values = series.flatMap((s) => s.points.map((p) => p.v));
  const startsAt = Date.parse(chart.startsAt);
  const fromParsed = chart.from !== undefined ? Date.parse(chart.from) : Number.NaN;
  const toParsed = chart.to !== undefined ? Date.parse(chart.to) : Number.NaN;
  let from = Number.isFinite(fromParsed) ? fromParsed : times.length > 0 ? Math.min(...times) : startsAt - 30 * MINUTE;
  let to = Number.isFinite(toParsed) ? toParsed : times.length > 0 ? Math.max(...times) : startsAt + 30 * MINUTE;
  if (!Number.isFinite(from) || !Number.isFinite(to)) {
    to = Date.now();
    from = to - 60 * MINUTE;
  }
  if (to <= from) to = from + MINUTE;

  const threshold = chart.threshold !== undefined && Number.isFinite(chart.threshold) ? chart.threshold : undefined;
  const scale = valueScale(values, threshold);
  const tickLabels = scale.ticks.map((v) => formatTick(v, scale.step));

  // Layout: title, plot, time axis, legend.
  const margin = 14;
  const titleLines = wrapText(options.title ?? shortQuery(chart.query), width - 2 * margin, TITLE_SIZE, 2);
  const plotTop = margin + titleLines.length * (TITLE_SIZE + 4) + 20;
  const legends = legendLabels(chart).map((parts) => (parts.length > 0 ? parts.join(", ") : "{}"));
  const plotLeft = margin + Math.max(...tickLabels.map((t) => t.length), 1) * FONT_SIZE * CHAR_WIDTH + 8;
  const plotRight = width - margin - 6;
  const plotWidth = plotRight - plotLeft;
  const longest = Math.max(...legends.map((l) => l.length), 1);
  const entryWidth = Math.min(width - 2 * margin, Math.max(140, longest * FONT_SIZE * CHAR_WIDTH + 36));
  // Many series share the room in two columns (or more when they fit), cut to fit, so the plot keeps most of the height.
  const fitting = Math.max(1, Math.floor((width - 2 * margin) / entryWidth));
  const columns = series.length > 4 && fitting < 2 && width >= 500 ? 2 : fitting;
  const columnWidth = columns > fitting ? (width - 2 * margin) / columns : entryWidth;
  const legendRows = series.length > 0 ? Math.ceil(series.length / columns) : 0;
  const legendHeight = legendRows * 17;
  const plotBottom = Math.max(plotTop + 40, height - margin - legendHeight - 26);
  const plotHeight = plotBottom - plotTop;

  const x = (t: number): number => plotLeft + ((t - from) / (to - from)) * plotWidth;
  const y = (v: number): number => plotBottom - ((v - scale.min) / (scale.max - scale.min)) * plotHeight;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}" font-size="${FONT_SIZE}">`,
    `<title>${escapeXml(`${shortQuery(chart.query)}${threshold !== undefined ? ` ${chart.comparison ?? ">"} ${formatValue(threshold)}` : ""}`)}</title>`,
    `<rect width="${width}" height="${height}" fill="#FFFFFF"/>`,
    `<defs><clipPath id="plot"><rect x="${n(plotLeft)}" y="${n(plotTop)}" width="${n(plotWidth)}" height="${n(plotHeight)}"/></clipPath></defs>`,
  );
  titleLines.forEach((line, i) => {
    parts.push(
      text(margin, margin + TITLE_SIZE + i * (TITLE_SIZE + 4), line, `font-size="${TITLE_SIZE}" font-weight="bold" fill="${TEXT_COLOUR}"`),
    );
  });

  // Firing since: a band from the start to the right edge, and a line where it began.
  if (Number.isFinite(startsAt) && startsAt <= to) {
    const bandFrom = Math.max(from, startsAt);
    parts.push(
      `<rect class="firing" x="${n(x(bandFrom))}" y="${n(plotTop)}" width="${n(x(to) - x(bandFrom))}" height="${n(plotHeight)}" fill="${FIRING_COLOUR}" fill-opacity="0.06"/>`,
    );
    const label = `firing since ${hhmm(startsAt)}`;
    if (startsAt >= from) {
      const sx = x(startsAt);
      const labelWidth = label.length * FONT_SIZE * CHAR_WIDTH;
      const anchorEnd = sx + 4 + labelWidth > plotRight;
      parts.push(
        `<g class="alert-start"><line x1="${n(sx)}" y1="${n(plotTop)}" x2="${n(sx)}" y2="${n(plotBottom)}" stroke="${FIRING_COLOUR}" stroke-width="1.5"/>`,
        text(anchorEnd ? sx - 4 : sx + 4, plotTop - 4, label, `fill="${FIRING_COLOUR}" text-anchor="${anchorEnd ? "end" : "start"}"`),
        `</g>`,
      );
    } else {
      parts.push(
        `<g class="alert-start">${text(plotLeft + 4, plotTop - 4, `${label} (before this window)`, `fill="${FIRING_COLOUR}"`)}</g>`,
      );
    }
  }

  // Grid and value axis.
  for (const [i, v] of scale.ticks.entries()) {
    const ty = y(v);
    parts.push(
      `<line x1="${n(plotLeft)}" y1="${n(ty)}" x2="${n(plotRight)}" y2="${n(ty)}" stroke="${GRID_COLOUR}" stroke-width="1"/>`,
      text(plotLeft - 6, ty + 4, tickLabels[i] ?? "", `text-anchor="end" fill="${AXIS_COLOUR}"`),
    );
  }
  // Time axis, in UTC.
  const maxTimeTicks = Math.max(2, Math.floor(plotWidth / 70));
  for (const t of timeTicks(from, to, maxTimeTicks)) {
    const tx = x(t);
    parts.push(
      `<line x1="${n(tx)}" y1="${n(plotBottom)}" x2="${n(tx)}" y2="${n(plotBottom + 4)}" stroke="${AXIS_COLOUR}"/>`,
      text(tx, plotBottom + 17, hhmm(t), `text-anchor="middle" fill="${AXIS_COLOUR}"`),
    );
  }
  parts.push(
    text(plotRight, plotBottom + 30, "UTC", `text-anchor="end" fill="${AXIS_COLOUR}" font-size="10"`),
    `<line x1="${n(plotLeft)}" y1="${n(plotBottom)}" x2="${n(plotRight)}" y2="${n(plotBottom)}" stroke="${AXIS_COLOUR}" stroke-width="1"/>`,
    `<line x1="${n(plotLeft)}" y1="${n(plotTop)}" x2="${n(plotLeft)}" y2="${n(plotBottom)}" stroke="${AXIS_COLOUR}" stroke-width="1"/>`,
  );

  // Series: a line each, broken where Prometheus had no sample for more than two steps.
  parts.push(`<g clip-path="url(#plot)" fill="none" stroke-width="1.75" stroke-linejoin="round" stroke-linecap="round">`);
  series.forEach((s, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length] ?? "#000000";
    const points = [...s.points].sort((a, b) => a.t - b.t);
    const gaps = points.slice(1).map((p, j) => p.t - (points[j]?.t ?? p.t));
    const typical = gaps.length > 0 ? ([...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)] ?? MINUTE) : MINUTE;
    let d = "";
    points.forEach((p, j) => {
      const previous = points[j - 1];
      const move = previous === undefined || p.t - previous.t > typical * 2.5;
      d += `${move ? "M" : "L"}${n(x(p.t))} ${n(y(p.v))}`;
    });
    const label = escapeXml(legends[i] ?? "");
    if (points.length === 1 && points[0] !== undefined) {
      parts.push(
        `<circle cx="${n(x(points[0].t))}" cy="${n(y(points[0].v))}" r="2.5" fill="${colour}" stroke="none"><title>${label}</title></circle>`,
      );
    } else if (d !== "") {
      parts.push(`<path d="${d}" stroke="${colour}"><title>${label}</title></path>`);
    }
  });
  parts.push(`</g>`);
  if (series.length === 0) {
    parts.push(
      text((plotLeft + plotRight) / 2, (plotTop + plotBottom) / 2, "no data in this window", `text-anchor="middle" fill="${AXIS_COLOUR}"`),
    );
  }

  // The threshold, over the series so it is never hidden.
  if (threshold !== undefined) {
    const ty = y(threshold);
    const label = `${THRESHOLD_WORDS[chart.comparison ?? ">"]} ${formatValue(threshold)}`;
    parts.push(
      `<g class="threshold"><line x1="${n(plotLeft)}" y1="${n(ty)}" x2="${n(plotRight)}" y2="${n(ty)}" stroke="${THRESHOLD_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
      `<rect x="${n(plotRight - label.length * FONT_SIZE * CHAR_WIDTH - 8)}" y="${n(ty - FONT_SIZE - 5)}" width="${n(label.length * FONT_SIZE * CHAR_WIDTH + 6)}" height="${FONT_SIZE + 3}" fill="#FFFFFF" fill-opacity="0.85"/>`,
      text(plotRight - 4, ty - 5, label, `text-anchor="end" fill="${THRESHOLD_COLOUR}" font-weight="bold"`),
      `</g>`,
    );
  }

  // Legend.
  const legendTop = plotBottom + 40;
  legends.forEach((label, i) => {
    const column = i % columns;
    const row = Math.floor(i / columns);
    const lx = margin + column * columnWidth;
    const ly = legendTop + row * 17;
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length] ?? "#000000";
    parts.push(
      `<line x1="${n(lx)}" y1="${n(ly - 4)}" x2="${n(lx + 16)}" y2="${n(ly - 4)}" stroke="${colour}" stroke-width="3" stroke-linecap="round"/>`,
      text(lx + 22, ly, fitText(label, columnWidth - 26, FONT_SIZE), `fill="${TEXT_COLOUR}"`),
    );
  });
  parts.push(`</svg>`);
  return parts.join("\n");
}

let installedFont: ChartFont | null | undefined;

/** The font with only its files that exist; undefined when its regular face is missing. */
function installed(font: ChartFont): ChartFont | undefined {
  const [regular] = font.files;
  if (regular === undefined || !existsSync(regular)) return undefined;
  return { family: font.family, files: font.files.filter((file) => existsSync(file)) };
}

function findFont(): ChartFont | undefined {
  installedFont ??= FONT_CANDIDATES.map(installed).find((font) => font !== undefined) ?? null;
  return installedFont ?? undefined;
}

const requireHere = createRequire(import.meta.url);
let loadedRasteriser: typeof Resvg | undefined;

/**
 * resvg, loaded when the first PNG is drawn: a native library a service that draws no chart (or only SVG, for the
 * report pages) never needs in memory. Loaded synchronously so that renderChartPng stays synchronous.
 */
function rasteriser(): typeof Resvg {
  loadedRasteriser ??= (requireHere("@resvg/resvg-js") as typeof import("@resvg/resvg-js")).Resvg;
  return loadedRasteriser;
}

/**
 * The chart as a PNG of the requested size. Text needs a font: the first of FONT_CANDIDATES found, else the system's
 * fonts; with none at all the chart is still drawn, without its words.
 */
export function renderChartPng(chart: AlertChart, options: ChartPngOptions = {}): Buffer {
  const svg = renderChartSvg(chart, options);
  const font = (options.font !== undefined ? installed(options.font) : undefined) ?? findFont();
  const resvg = new (rasteriser())(svg, {
    fitTo: { mode: "original" },
    background: "#FFFFFF",
    font:
      font !== undefined
        ? { loadSystemFonts: false, fontFiles: font.files, defaultFontFamily: font.family, sansSerifFamily: font.family }
        : { loadSystemFonts: true },
  });
  return resvg.render().asPng();
}
