// The local status page an operator opens on the robot (http://127.0.0.1:9464/). It is a static
// asset (assets/status.html: inline CSS and JS, no external assets, since robots are often offline)
// that polls /status.json and renders with textContent only, so topic names and error messages can
// never inject markup.
import { readFileSync } from 'node:fs';

const pageUrl = new URL('./assets/status.html', import.meta.url);

/** The status page HTML (read from its asset). */
export function statusPageHtml(): string {
  return readFileSync(pageUrl, 'utf8');
}
