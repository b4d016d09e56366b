// Tests for the alert chart: what the SVG shows (threshold, start of the alert, legend, axes), its escaping, and the PNG.
import { describe, expect, it } from "vitest";
import type { AlertChart } from "../../src/model/diagnosis.ts";
import { formatTick, formatValue, legendLabels, renderChartPng, renderChartSvg, stepDecimals } from "../../src/render/chart.ts";

const END = Date.parse("2026-08-20T10:15:00Z");

function series(labels: Record<string, string>, value: (minute: number) => number, minutes = 61): AlertChart["series"][number] {
  return {
    labels,
    points: Array.from({ length: minutes }, (_, i) => ({ t: new Date(END - (minutes - 1 - i) * 60_000).toISOString(), v: value(i) })),
  };
}

function makeChart(overrides: Partial<AlertChart> = {}): AlertChart {
  return {
    query:
      'sum(rate(rest_client_requests_total{code=~"5.."}[5m])) by (job, instance) / sum(rate(rest_client_requests_total[5m])) by (job, instance)',
    threshold: 0.01,
    comparison: ">",
    startsAt: "2026-08-20T10:02:00Z",
    from: new Date(END - 3_600_000).toISOString(),
    to: new Date(END).toISOString(),
    series: [
      series({ job: "kube-state-metrics", instance: "10.244.1.17:8443" }, (m) => (m > 45 ? 0.042 : 0.002)),
      series({ job: "coredns", instance: "10.244.2.3:8443" }, () => 0.001),
    ],
    ...overrides,
  };
}

/** Width and height from the PNG's IHDR chunk, which must come first. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(12, 16).toString("ascii")).toBe("IHDR");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe("renderChartSvg", () => {
  it("draws the threshold as a dashed red line labelled with its value", () => {
    const svg = renderChartSvg(makeChart());
    const threshold = /<g class="threshold">([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? "";
    expect(threshold).toMatch(/<line [^>]*stroke-dasharray="6 4"/);
    expect(threshold).toMatch(/stroke="#C0392B"/);
    expect(threshold).toContain(">fires above 0.01</text>");
  });

  it("labels a threshold of 86400 as 86.4k and one below it as `fires below`", () => {
    const svg = renderChartSvg(makeChart({ threshold: 86400, comparison: "<", series: [series({ job: "apiserver" }, () => 3e6)] }));
    expect(svg).toContain(">fires below 86.4k</text>");
  });

  it("marks when the alert started firing with a vertical line and its time in UTC", () => {
    const svg = renderChartSvg(makeChart());
    const start = /<g class="alert-start">([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? "";
    const line = /<line x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)"/.exec(start);
    expect(line?.[1]).toBe(line?.[2]);
    expect(start).toContain(">firing since 10:02</text>");
  });

  it("says the alert started before the window when it did", () => {
    const svg = renderChartSvg(makeChart({ startsAt: "2026-08-20T08:00:00Z" }));
    expect(svg).toContain("firing since 08:00 (before this window)");
  });

  it("labels the time axis in HH:MM UTC", () => {
    const svg = renderChartSvg(makeChart());
    for (const time of ["09:20", "09:30", "09:40", "09:50", "10:00", "10:10"]) expect(svg).toContain(`>${time}</text>`);
    expect(svg).toContain(">UTC</text>");
  });

  it("draws one line per series in distinct colours, and a legend naming the labels that tell them apart", () => {
    const svg = renderChartSvg(makeChart());
    const strokes = [...svg.matchAll(/<path d="[^"]+" stroke="(#[0-9A-F]{6})"/g)].map((m) => m[1]);
    expect(strokes).toHaveLength(2);
    expect(new Set(strokes).size).toBe(2);
    expect(svg).toContain(">job=kube-state-metrics, instance=10.244.1.17:8443</text>");
    expect(svg).toContain(">job=coredns, instance=10.244.2.3:8443</text>");
  });

  it("leaves labels every series shares out of the legend", () => {
    const chart = makeChart({
      series: [
        series({ cluster: "prod", job: "apiserver", code: "500" }, () => 1),
        series({ cluster: "prod", job: "apiserver", code: "503" }, () => 2),
      ],
    });
    expect(legendLabels(chart)).toEqual([["code=500"], ["code=503"]]);
    expect(legendLabels(makeChart({ series: [series({ __name__: "up", pod: "p", team: "x", job: "j" }, () => 1)] }))).toEqual([
      ["job=j", "pod=p"],
    ]);
  });

  it("escapes label values, so a label cannot inject markup into the SVG", () => {
    const chart = makeChart({
      query: 'up{job="<script>alert(1)</script>"}',
      series: [series({ job: "<script>alert('x')</script>", instance: 'a"b&c' }, () => 1), series({ job: "ok", instance: "b" }, () => 2)],
    });
    const svg = renderChartSvg(chart);
    expect(svg).not.toContain("<script>");
    expect(svg).toContain("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;");
    expect(svg).toContain("a&quot;b&amp;c");
    expect(svg).not.toMatch(/&(?!amp;|lt;|gt;|quot;|apos;)/);
  });

  it("drops control characters XML cannot carry", () => {
    const svg = renderChartSvg(makeChart({ series: [series({ job: "a\u0000b\u001bc" }, () => 1)] }));
    expect(svg).toContain("job=abc");
  });

  it("shortens a long query in the title and keeps all of it in the SVG's <title>", () => {
    const query = `sum(${"rate(a_very_long_metric_name_total[5m]) + ".repeat(20)}0)`;
    const svg = renderChartSvg(makeChart({ query }));
    expect(svg).toContain(`<title>${query} &gt; 0.01</title>`);
    const bold = [...svg.matchAll(/font-weight="bold" [^>]*>([^<]*)<\/text>/g)].map((m) => m[1] ?? "");
    expect(bold.length).toBeLessThanOrEqual(2);
    expect(bold.at(-1)).toMatch(/…$/);
  });

  it("uses the title it is given", () => {
    expect(renderChartSvg(makeChart(), { title: "KubeClientErrors: kube-state-metrics" })).toContain(
      ">KubeClientErrors: kube-state-metrics</text>",
    );
  });

  it("breaks a line where Prometheus had no samples", () => {
    const gappy = series({ job: "a" }, (m) => m);
    gappy.points = gappy.points.filter((_, i) => i < 20 || i > 40);
    const svg = renderChartSvg(makeChart({ series: [gappy] }));
    const d = /<path d="([^"]+)"/.exec(svg)?.[1] ?? "";
    expect(d.match(/M/g)).toHaveLength(2);
  });

  it("says there is no data when no series came back, and still draws the threshold", () => {
    const svg = renderChartSvg(makeChart({ series: [] }));
    expect(svg).toContain("no data in this window");
    expect(svg).toContain('<g class="threshold">');
  });

  it("renders 10 series of 60 points", () => {
    const many = Array.from({ length: 10 }, (_, i) =>
      series({ job: `client-${i}`, instance: `10.0.0.${i}:443` }, (m) => i + Math.sin(m), 60),
    );
    const svg = renderChartSvg(makeChart({ series: many }));
    expect(svg.match(/<path /g)).toHaveLength(10);
    expect(svg).toContain(">job=client-9, instance=10.0.0.9:443</text>");
  });
});

describe("number formatting", () => {
  it("prints axis ticks with the decimals their step needs and k/M suffixes", () => {
    expect([0, 0.005, 0.01, 0.015].map((v) => formatTick(v, 0.005))).toEqual(["0", "0.005", "0.01", "0.015"]);
    expect([0, 25000, 50000, 100000].map((v) => formatTick(v, 25000))).toEqual(["0", "25k", "50k", "100k"]);
    expect(formatTick(2_500_000, 500_000)).toBe("2.5M");
    expect(formatTick(-2, 1)).toBe("-2");
  });

  it("labels every tick of a 2.5 × 10ⁿ step exactly: 2.5 is not 3, 7.5 not 8, 0.075 not 0.07", () => {
    const ticks = (step: number, count: number) => Array.from({ length: count }, (_, i) => formatTick(i * step, step));
    expect(ticks(2.5, 5)).toEqual(["0", "2.5", "5", "7.5", "10"]);
    expect(ticks(0.025, 5)).toEqual(["0", "0.025", "0.05", "0.075", "0.1"]);
    expect(ticks(25, 5)).toEqual(["0", "25", "50", "75", "100"]);
    expect(ticks(0.25, 4)).toEqual(["0", "0.25", "0.5", "0.75"]);
    expect(ticks(250, 6)).toEqual(["0", "250", "500", "750", "1k", "1.25k"]);
    expect(ticks(2_500, 4)).toEqual(["0", "2.5k", "5k", "7.5k"]);
    expect(ticks(2.5e-7, 3)).toEqual(["0", "0.00000025", "0.0000005"]);
    expect(formatTick(-7.5, 2.5)).toBe("-7.5");
  });

  it("labels 1, 2 and 5 × 10ⁿ steps as d3's tickFormat does (trailing zeros dropped, k for thousands)", () => {
    // d3-scale 4.0.3: scaleLinear().domain([0, hi]).nice(5).tickFormat(5) for these ticks.
    expect([0, 0.2, 0.4, 0.6000000000000001, 0.8, 1].map((v) => formatTick(v, 0.2))).toEqual(["0", "0.2", "0.4", "0.6", "0.8", "1"]);
    expect([0.00001, 0.00002, 0.000030000000000000004].map((v) => formatTick(v, 1e-5))).toEqual(["0.00001", "0.00002", "0.00003"]);
    expect([-0.0001, 0.0001, 0.0007000000000000001].map((v) => formatTick(v, 1e-4))).toEqual(["-0.0001", "0.0001", "0.0007"]);
    expect([0.005, 0.01, 0.015, 0.03].map((v) => formatTick(v, 0.005))).toEqual(["0.005", "0.01", "0.015", "0.03"]);
    expect([20, 40, 100].map((v) => formatTick(v, 20))).toEqual(["20", "40", "100"]);
  });

  it("counts the decimals a step needs from its digits, not its order of magnitude", () => {
    expect([25, 2.5, 0.075, 0.1 + 0.2, 1e-5, 5e5].map(stepDecimals)).toEqual([0, 1, 3, 1, 5, 0]);
  });

  it("draws a value axis whose labels match the ticks when the step is 2.5 × 10ⁿ", () => {
    const axis = (peak: number) => {
      const svg = renderChartSvg(makeChart({ threshold: undefined, series: [series({ job: "a" }, (m) => (m / 60) * peak)] }));
      const labels = [...svg.matchAll(/<text [^>]*text-anchor="end"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
      return labels.filter((l) => l !== "UTC");
    };
    expect(axis(10.5)).toEqual(["0", "2.5", "5", "7.5", "10", "12.5"]);
    expect(axis(0.105)).toEqual(["0", "0.025", "0.05", "0.075", "0.1", "0.125"]);
  });

  it("prints a value on its own with four significant digits", () => {
    expect(formatValue(86400)).toBe("86.4k");
    expect(formatValue(0.01)).toBe("0.01");
    expect(formatValue(1)).toBe("1");
    expect(formatValue(1234567)).toBe("1.235M");
    expect(formatValue(0.00001)).toBe("1.00e-5");
  });
});

describe("renderChartPng", () => {
  it("renders a PNG of the requested size", () => {
    const png = renderChartPng(makeChart(), { width: 640, height: 320 });
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(pngSize(png)).toEqual({ width: 640, height: 320 });
  });

  it("renders 10 series of 60 points at the default 800 × 400", () => {
    const many = Array.from({ length: 10 }, (_, i) => series({ job: `client-${i}` }, (m) => i * m, 60));
    const png = renderChartPng(makeChart({ series: many }));
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(pngSize(png)).toEqual({ width: 800, height: 400 });
  });

  it("still renders the chart when the font it is given does not exist", () => {
    const png = renderChartPng(makeChart(), { font: { family: "Nowhere Sans", files: ["/nonexistent/font.ttf"] } });
    expect(pngSize(png)).toEqual({ width: 800, height: 400 });
  });
});
