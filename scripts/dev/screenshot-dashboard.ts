/**
 * Screenshot of the dashboard of a lakehouse, for the README:
 *   npx tsx scripts/dev/screenshot-dashboard.ts <lakehouse root> <out.png>
 */
import { DashboardServer } from '../../src/ui/server.js';
import { launchChromium } from '../../test/helpers/browser.js';

const [root, out] = [process.argv[2] ?? 'lakehouse', process.argv[3] ?? 'docs/images/dashboard.png'];
const server = new DashboardServer({ root, source: 'data/sample' });
await server.start();
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  await page.goto(server.url);
  await page.waitForSelector('[data-testid="chart-top-negative"] svg', { timeout: 30_000 });
  await page.waitForTimeout(1500);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.stop();
}
