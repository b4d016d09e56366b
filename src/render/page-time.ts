// A moment on the report pages: UTC text that reads without JavaScript, and the exact instant for the page's script,
// which rewrites it in the reader's own time zone with how long ago it was ("4 min ago").
import { escapeHtml } from "./html-text.ts";

/** "2026-12-04 09:41:02 UTC" in a <time> element whose datetime attribute carries the instant; unparsable text as is. */
export function timeHtml(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeHtml(iso);
  const instant = new Date(ms).toISOString();
  return `<time datetime="${escapeHtml(instant)}">${escapeHtml(instant.replace("T", " ").slice(0, 19))} UTC</time>`;
}

/**
 * Page-side code (in the report pages' one inline script): every <time datetime> shows the local date and time with
 * its zone and "4 min ago", refreshed every 30 s; hovering shows the UTC instant.
 */
export const LOCAL_TIME_SCRIPT =
  `function ago(ms){var s=Math.round((Date.now()-ms)/1000),a=Math.abs(s),t;if(a<45)return s<0?"in a moment":"just now";` +
  `var m=Math.round(a/60);if(m<60)t=m+" min";else if(m<2880)t=Math.round(a/3600)+" h";else t=Math.round(a/86400)+" d";` +
  `return s<0?"in "+t:t+" ago";}` +
  `function localTimes(){document.querySelectorAll("time[datetime]").forEach(function(el){var iso=el.getAttribute("datetime"),ms=Date.parse(iso);if(isNaN(ms))return;` +
  `el.textContent=new Date(ms).toLocaleString(undefined,{year:"numeric",month:"short",day:"numeric",hour:"2-digit",minute:"2-digit",second:"2-digit",timeZoneName:"short"})+" ("+ago(ms)+")";` +
  `el.title=iso;});}localTimes();setInterval(localTimes,30000);`;
