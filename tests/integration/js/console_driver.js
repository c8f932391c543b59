// tests/integration/js/console_driver.js: headless Chromium (Debian's, /usr/bin/chromium)
// driven by playwright-core for tests/integration/test_console.py. The test sends one JSON
// command a line on stdin and reads one JSON answer a line on stdout:
//   {"cmd": "page"}                              a fresh page (1280x860), closing the last
//   {"cmd": "blank"}                             about:blank (the console stops polling)
//   {"cmd": "goto", "url": u}
//   {"cmd": "wait_text", "selector": s, "pattern": re, "timeout": ms}  until s's text matches
//   {"cmd": "text", "selector": s}               s's text (waits for s to exist)
//   {"cmd": "click" | "fill" | "select", "selector": s, "value": v}
//   {"cmd": "eval", "expr": js}
//   {"cmd": "screenshot", "path": p}
//   {"cmd": "errors"}                            console errors and page errors so far
//   {"cmd": "close"}
// Answers: {"ok": true, "value": ...} or {"ok": false, "error": sentence}.
'use strict';

const readline = require('readline');
const { chromium } = require('playwright-core');

const executablePath = process.env.RUNNEL_CHROMIUM || '/usr/bin/chromium';
let browser, page;
const errors = [];

async function freshPage() {
  if (page) await page.close();
  page = await browser.newPage({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  page.setDefaultTimeout(15000);
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page: ' + e.message));
}

const commands = {
  page: () => freshPage(),
  blank: () => page.goto('about:blank'),
  goto: (c) => page.goto(c.url, { waitUntil: 'load' }).then((r) => r && r.status()),
  text: (c) => page.locator(c.selector).first().innerText({ timeout: c.timeout }),
  wait_text: async (c) => {
    const re = new RegExp(c.pattern);
    const loc = page.locator(c.selector).first();
    const deadline = Date.now() + (c.timeout || 15000);
    let last = null;
    for (;;) {
      try { last = await loc.innerText({ timeout: 1000 }); } catch (e) { last = null; }
      if (last !== null && re.test(last)) return last;
      if (Date.now() > deadline) throw new Error('"' + c.selector + '" never matched /' + c.pattern + '/; last text: ' + JSON.stringify(last));
      await new Promise((r) => setTimeout(r, 150));
    }
  },
  click: (c) => page.locator(c.selector).first().click(),
  fill: (c) => page.locator(c.selector).first().fill(String(c.value)),
  select: (c) => page.locator(c.selector).first().selectOption(String(c.value)),
  eval: (c) => page.evaluate(c.expr),
  screenshot: (c) => page.screenshot({ path: c.path, fullPage: !!c.full_page }).then(() => c.path),
  errors: () => errors.splice(0),
  close: async () => { await browser.close(); process.exit(0); },
};

async function main() {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    // root in a container: Chromium's sandbox needs namespaces it may not get
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  await freshPage();
  process.stdout.write(JSON.stringify({ ok: true, value: browser.version() }) + '\n');
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    let answer;
    try {
      const c = JSON.parse(line);
      if (!commands[c.cmd]) throw new Error('unknown command ' + c.cmd);
      answer = { ok: true, value: (await commands[c.cmd](c)) ?? null };
    } catch (e) {
      answer = { ok: false, error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
  await browser.close();
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, error: 'cannot start Chromium: ' + e.message }) + '\n');
  process.exit(1);
});
