// Browser checks for `subtext serve` (and, optionally, a `subtext report` file).
//
//   node browser.mjs <base-url> <call-id> <out-dir> [report:<path-to-report.html>]
//
// Drives the system Chromium (CHROMIUM=/path overrides /usr/bin/chromium) through
// playwright-core. Prints one line per passed check; on the first failure prints
// what went wrong and exits 1.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [baseArg, callId, outDir, extra] = process.argv.slice(2);
if (!baseArg || !callId || !outDir) {
  console.error('usage: node browser.mjs <base-url> <call-id> <out-dir> [report:<path-to-report.html>]');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const reportPath = extra && extra.startsWith('report:') ? path.resolve(extra.slice('report:'.length)) : null;
if (extra && !reportPath) {
  console.error(`unknown 4th argument ${JSON.stringify(extra)} (expected report:<path>)`);
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });

const TIMEOUT = 15000;
const problems = []; // console and page errors, collected all run long
let passed = 0;

class CheckFailed extends Error {}

function ok(msg) {
  passed += 1;
  console.log(`ok ${passed} - ${msg}`);
}

function fail(msg) {
  throw new CheckFailed(msg);
}

function attrSel(name, value) {
  return `[${name}="${String(value).replace(/["\\]/g, '\\$&')}"]`;
}

async function check(name, fn) {
  try {
    const detail = await fn();
    ok(detail ? `${name} (${detail})` : name);
  } catch (e) {
    if (e instanceof CheckFailed) throw new CheckFailed(`${name}: ${e.message}`);
    throw new CheckFailed(`${name}: ${e && e.message ? e.message.split('\n')[0] : e}`);
  }
}

function watch(page, label) {
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      const loc = msg.location();
      problems.push(`${label}: console error: ${msg.text()}${loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`${label}: page error: ${err.message}`));
}

async function waitFor(page, fn, arg, what, timeout = TIMEOUT) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 50 });
  } catch (e) {
    fail(`timed out after ${timeout} ms waiting for ${what}`);
  }
}

// ---------------------------------------------------------------- call page checks

async function checkCurve(page) {
  await check('curve is drawn with a speaker path and turn points', async () => {
    await waitFor(page, () => {
      const p = document.querySelector('#curve path.curve-customer, #curve path.curve-unknown');
      return p && (p.getAttribute('d') || '').length > 0;
    }, null, '#curve path.curve-customer or path.curve-unknown with a non-empty d');
    const n = await page.locator('#curve circle.point').count();
    if (n < 1) fail('no #curve circle.point');
    const withTime = await page.locator('#curve circle.point[data-time]').count();
    if (withTime !== n) fail(`${n - withTime} of ${n} points lack data-time`);
    const box = await page.locator('#curve').boundingBox();
    if (!box || box.width < 100 || box.height < 60) fail(`curve is too small: ${JSON.stringify(box)}`);
    return `${n} points, ${Math.round(box.width)}x${Math.round(box.height)} px`;
  });
}

async function checkTranscript(page) {
  await check('transcript renders turns with start times', async () => {
    await waitFor(page, () => document.querySelectorAll('#transcript .turn[data-start]').length > 0, null, '#transcript .turn[data-start]');
    const n = await page.locator('#transcript .turn').count();
    const text = (await page.locator('#transcript .turn').first().innerText()).trim();
    if (!text) fail('first turn has no text');
    return `${n} turns`;
  });
}

async function checkTurnClick(page, { audio }) {
  await check('clicking the 3rd turn seeks to its start and marks it current', async () => {
    const turns = page.locator('#transcript .turn');
    const n = await turns.count();
    if (n < 3) fail(`need at least 3 turns, found ${n}`);
    const third = turns.nth(2);
    const start = parseFloat(await third.getAttribute('data-start'));
    if (!isFinite(start)) fail('3rd turn has no numeric data-start');
    await third.scrollIntoViewIfNeeded();
    await third.click();
    await waitFor(page, (i) => document.querySelectorAll('#transcript .turn')[i].classList.contains('current'), 2,
      'the 3rd turn to get class "current"', 5000);
    const currents = await page.locator('#transcript .turn.current').count();
    if (currents !== 1) fail(`${currents} turns have class "current"`);
    if (audio) {
      await waitFor(page, (s) => Math.abs(document.getElementById('player').currentTime - s) <= 0.3, start,
        `player.currentTime within 0.3 s of ${start}`, 5000);
      const t = await page.evaluate(() => document.getElementById('player').currentTime);
      return `data-start ${start}, currentTime ${t.toFixed(3)}`;
    }
    return `data-start ${start}, no audio: cursor only`;
  });
}

async function checkCurveClick(page, duration, { audio }) {
  await check('clicking the curve at 50% width seeks to about half the call', async () => {
    // Click the middle of the plot area (or of the whole curve), near the top edge
    // of the plot where no turn point or hint marker sits.
    const plot = page.locator('#curve rect.plot-area');
    const target = (await plot.count()) > 0 ? plot.first() : page.locator('#curve');
    await target.scrollIntoViewIfNeeded();
    const box = await target.boundingBox();
    if (!box) fail('curve has no bounding box');
    await page.mouse.click(box.x + box.width * 0.5, box.y + Math.min(4, box.height / 10));
    const want = duration / 2;
    const tol = duration * 0.05;
    if (audio) {
      await waitFor(page, ([w, tl]) => Math.abs(document.getElementById('player').currentTime - w) <= tl, [want, tol],
        `player.currentTime within ${tol.toFixed(2)} s of ${want.toFixed(2)}`, 5000);
    }
    // The cursor follows.
    const cur = await page.evaluate(() => {
      const c = document.getElementById('cursor');
      if (!c) return null;
      const r = c.getBoundingClientRect();
      return r.left + r.width / 2;
    });
    if (cur === null) fail('no #cursor line in the curve');
    if (Math.abs(cur - (box.x + box.width * 0.5)) > box.width * 0.05) {
      fail(`#cursor is at x=${cur.toFixed(0)}, expected about ${(box.x + box.width * 0.5).toFixed(0)}`);
    }
    if (audio) {
      const t = await page.evaluate(() => document.getElementById('player').currentTime);
      return `currentTime ${t.toFixed(2)} of ${duration.toFixed(2)} s`;
    }
    return 'cursor moved (no audio)';
  });
}

// ---------------------------------------------------------------- serve mode

async function runServe(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  watch(page, 'serve');

  const rowSel = `#calls tbody tr${attrSel('data-id', callId)}`;
  let apiCalls;

  await check('list page loads with the call row and the "N of M" count', async () => {
    const resp = await page.goto(`${base}/`, { waitUntil: 'load' });
    if (!resp || resp.status() !== 200) fail(`GET / answered ${resp && resp.status()}`);
    await page.locator(rowSel).waitFor({ state: 'visible' }).catch(() => fail(`no visible row ${rowSel} on the list page`));
    await waitFor(page, () => /\b\d+ of \d+ calls?\b/.test(document.body.innerText), null, 'an "N of M calls" count');
    apiCalls = await page.evaluate(async () => (await (await fetch('/api/calls')).json()).calls);
    const rows = await page.locator('#calls tbody tr[data-id]').count();
    if (rows !== apiCalls.length) fail(`${rows} rows for ${apiCalls.length} calls from /api/calls`);
    const count = (await page.locator('#count').innerText()).trim();
    return `${rows} rows, "${count}"`;
  });

  await page.screenshot({ path: path.join(outDir, 'list-page.png'), fullPage: true });

  await check('filter hides non-matching rows', async () => {
    const needle = callId.toLowerCase();
    const hay = (c) => [c.id, c.file, c.source, c.trajectory, ...(c.top_metaphors || []).map((m) => m.class)]
      .filter(Boolean).join('\n').toLowerCase();
    const others = apiCalls.filter((c) => !hay(c).includes(needle));
    await page.fill('#filter', callId);
    await page.locator(rowSel).waitFor({ state: 'visible' });
    const counted = (await page.locator('#count').innerText()).trim();
    const m = /(\d+) of (\d+)/.exec(counted);
    if (!m) fail(`count reads "${counted}"`);
    if (Number(m[1]) !== apiCalls.length - others.length) fail(`count reads "${counted}", expected ${apiCalls.length - others.length} shown`);
    for (const c of others) {
      if (await page.locator(`#calls tbody tr${attrSel('data-id', c.id)}`).isVisible()) fail(`row ${c.id} still visible`);
    }
    await page.fill('#filter', '');
    await waitFor(page, (n) => document.querySelectorAll('#calls tbody tr[data-id]:not([hidden])').length === n,
      apiCalls.length, 'all rows to come back after clearing the filter');
    return others.length ? `${others.length} hidden, "${counted}"` : `only one call: nothing to hide, "${counted}"`;
  });

  await check('clicking a header sorts the table', async () => {
    const dur = Object.fromEntries(apiCalls.map((c) => [c.id, c.duration]));
    const header = page.locator('#calls thead th[data-key="duration"]');
    const order = async () => page.$$eval('#calls tbody tr[data-id]', (trs) => trs.map((t) => t.getAttribute('data-id')));
    const sorted = (ids, dir) => ids.every((id, i) => i === 0 || dir * (dur[id] - dur[ids[i - 1]]) >= 0);
    await header.click();
    let ids = await order();
    const first = await header.getAttribute('aria-sort');
    const dir1 = first === 'descending' ? -1 : 1;
    if (!first) fail('sorted header has no aria-sort');
    if (!sorted(ids, dir1)) fail(`rows not ${first} by duration: ${ids.join(', ')}`);
    await header.click();
    ids = await order();
    const second = await header.getAttribute('aria-sort');
    if (second === first) fail(`second click kept aria-sort=${second}`);
    if (!sorted(ids, -dir1)) fail(`rows not ${second} by duration: ${ids.join(', ')}`);
    return `duration ${first} then ${second}`;
  });

  const call = await page.evaluate(async (id) => (await fetch(`/api/calls/${encodeURIComponent(id)}`)).json(), callId);
  const duration = call.call.duration;

  await check('clicking the call link opens the call page', async () => {
    await page.locator(`${rowSel} a`).first().click();
    await page.waitForURL((u) => u.pathname === `/call/${encodeURIComponent(callId)}` || decodeURIComponent(u.pathname) === `/call/${callId}`);
    await waitFor(page, () => document.querySelectorAll('#transcript .turn').length > 0, null, 'the transcript');
    const title = (await page.locator('#call-title').innerText()).trim();
    return `title "${title}"`;
  });

  await checkCurve(page);
  await checkTranscript(page);

  await check('audio metadata loads with the call duration', async () => {
    await waitFor(page, () => document.getElementById('player').readyState >= 1, null, 'player.readyState >= 1 (loadedmetadata)');
    const d = await page.evaluate(() => document.getElementById('player').duration);
    if (!(Math.abs(d - duration) <= 0.5)) fail(`audio duration ${d}, call duration ${duration}`);
    return `duration ${d.toFixed(3)} s vs ${duration} s`;
  });

  await checkTurnClick(page, { audio: true });
  await checkCurveClick(page, duration, { audio: true });

  await check('audio answers a Range request with 206 and 100 bytes', async () => {
    const r = await page.evaluate(async (id) => {
      const resp = await fetch(`/audio/${encodeURIComponent(id)}`, { headers: { Range: 'bytes=0-99' } });
      const buf = await resp.arrayBuffer();
      return { status: resp.status, range: resp.headers.get('Content-Range'), len: buf.byteLength };
    }, callId);
    if (r.status !== 206) fail(`status ${r.status}`);
    if (!r.range || !r.range.startsWith('bytes 0-99/')) fail(`Content-Range ${JSON.stringify(r.range)}`);
    if (r.len !== 100) fail(`${r.len} bytes`);
    return r.range;
  });

  await check('path traversal and unknown audio answer 404', async () => {
    // Through the request API, not the page, so that the expected 404s do not show
    // up as console errors.
    const got = [];
    for (const p of ['/api/calls/..%2F..%2Fetc%2Fpasswd', '/audio/nope']) {
      const resp = await context.request.get(`${base}${p}`, { maxRedirects: 0 });
      if (resp.status() !== 404) fail(`${p} answered ${resp.status()}`);
      got.push(`${p} 404`);
    }
    return got.join(', ');
  });

  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(outDir, 'call-page.png'), fullPage: true });

  await context.close();
}

// ---------------------------------------------------------------- report mode

async function runReport(browser) {
  if (!fs.existsSync(reportPath)) fail(`report file ${reportPath} does not exist`);
  const html = fs.readFileSync(reportPath, 'utf8');
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  watch(page, 'report');

  let data, audioPath;
  await check('report is self-contained and opens from file://', async () => {
    if (/<link[^>]+href=["']?\/assets\//i.test(html) || /<script[^>]+src=["']?\/assets\//i.test(html)) {
      fail('still references /assets/ (the stylesheet or script was not inlined)');
    }
    if (html.includes('<!--subtext:data-->')) fail('the data marker was not replaced');
    const remote = [];
    page.on('request', (req) => {
      const u = req.url();
      if (!u.startsWith('file:') && !u.startsWith('data:') && !u.startsWith('blob:')) remote.push(u);
    });
    await page.goto('file://' + reportPath, { waitUntil: 'load' });
    data = await page.evaluate(() => {
      const e = document.getElementById('subtext-call');
      return e ? JSON.parse(e.textContent) : null;
    });
    if (!data) fail('no <script id="subtext-call"> with the transcript');
    audioPath = await page.evaluate(() => {
      const e = document.getElementById('subtext-audio');
      return e ? JSON.parse(e.textContent) : undefined;
    });
    if (audioPath === undefined) fail('no <script id="subtext-audio">');
    await waitFor(page, () => document.querySelectorAll('#transcript .turn').length > 0, null, 'the transcript');
    if (remote.length) fail(`requests outside the file: ${remote.join(', ')}`);
    const back = await page.locator('a[href="/"]').count();
    if (back) fail('report links back to "/" (there is no server in report mode)');
    return `audio ${JSON.stringify(audioPath)}`;
  });

  await checkCurve(page);
  await checkTranscript(page);

  let audio = false;
  if (audioPath) {
    // The audio may or may not sit next to the report; use it when it loads.
    audio = await page.waitForFunction(() => {
      const p = document.getElementById('player');
      return p.readyState >= 1 || (p.error ? 'error' : false);
    }, null, { timeout: 10000, polling: 50 }).then((h) => h.jsonValue()).then((v) => v === true).catch(() => false);
    console.log(`# report audio ${audio ? 'loaded' : 'not loadable from ' + JSON.stringify(audioPath)}`);
    if (!audio) {
      // A report whose audio file is not beside it is still a valid report: the
      // browser's own "Failed to load resource" for that file is not a page error.
      const href = new URL(audioPath, 'file://' + reportPath).href;
      for (let i = problems.length - 1; i >= 0; i--) {
        if (problems[i].includes('Failed to load resource') && problems[i].includes(href)) problems.splice(i, 1);
      }
    }
  }

  await checkTurnClick(page, { audio });
  await checkCurveClick(page, data.call.duration, { audio });

  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(outDir, 'report.png'), fullPage: true });
  await context.close();
}

// ---------------------------------------------------------------- main

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

let code = 0;
let current = null; // the page under test, for a screenshot on failure
browser.on('disconnected', () => { current = null; });
const origNewContext = browser.newContext.bind(browser);
browser.newContext = async (...a) => {
  const ctx = await origNewContext(...a);
  ctx.on('page', (p) => { current = p; });
  return ctx;
};
try {
  if (reportPath) await runReport(browser);
  else await runServe(browser);
  await check('no console or page errors', async () => {
    if (problems.length) fail('\n  ' + problems.join('\n  '));
  });
  await check('screenshots saved', async () => {
    const names = reportPath ? ['report.png'] : ['list-page.png', 'call-page.png'];
    for (const n of names) {
      const p = path.join(outDir, n);
      if (!fs.existsSync(p) || fs.statSync(p).size === 0) fail(`${p} missing`);
    }
    return names.map((n) => path.join(outDir, n)).join(', ');
  });
  console.log(`all ${passed} checks passed`);
} catch (e) {
  code = 1;
  console.error(`FAILED: ${e instanceof CheckFailed ? e.message : e && e.stack ? e.stack : e}`);
  if (current && !current.isClosed()) {
    const shot = path.join(outDir, 'failure.png');
    await current.screenshot({ path: shot, fullPage: true }).then(() => console.error(`screenshot of the failing page: ${shot}`), () => {});
  }
  if (problems.length && !(e instanceof CheckFailed && e.message.startsWith('no console'))) {
    console.error('console/page errors so far:\n  ' + problems.join('\n  '));
  }
} finally {
  await browser.close().catch(() => {});
}
process.exit(code);
