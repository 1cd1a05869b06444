// aibt's web UI in real headless Chromium (Debian's /usr/bin/chromium), driven by
// playwright-core, against a real `aibt serve` that crates/aibt/tests/browser.rs starts.
//
// Environment: AIBT_URL (the server), AIBT_BIN and AIBT_DATABASE_URL (to start a worker when
// the test wants one), SCREENSHOTS (a directory), CHROMIUM (the browser, default
// /usr/bin/chromium). Each step saves a screenshot; a failure saves one of the page as it was.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const base = process.env.AIBT_URL;
const shots = process.env.SCREENSHOTS || "screenshots";
mkdirSync(shots, { recursive: true });

// A small OpenAI-compatible reasoning model: thinks (in a field of its own, as vLLM and
// llama.cpp send it), then answers every decision after a short wait. Offered tools, it
// looks at the account first and submits its decision with submit_decision.
const fake = http.createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => {
    const asked = JSON.parse(body || "{}");
    const prompt = asked.messages?.find((m) => m.role === "user")?.content || "";
    let hash = 0;
    for (const c of prompt) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
    const action = ["BUY", "HOLD", "SELL"][hash % 3];
    const content = JSON.stringify({ action, confidence: 0.7, reasoning: `fake model says ${action}` });
    let message = { role: "assistant", content, reasoning_content: `weighing ${action}` };
    if (asked.tools) {
      const looked = asked.messages.some((m) => m.role === "tool");
      const [name, args] = looked ? ["submit_decision", content] : ["get_position", "{}"];
      message = { ...message, content: null,
        tool_calls: [{ id: `call_${name}`, type: "function", function: { name, arguments: args } }] };
    }
    setTimeout(() => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({
        choices: [{ index: 0, message, finish_reason: "stop" }],
        usage: { prompt_tokens: Math.ceil(prompt.length / 4), completion_tokens: 20 },
      }));
    }, 30);
  });
});
await new Promise((resolve) => fake.listen(0, "127.0.0.1", resolve));
const fakeUrl = `http://127.0.0.1:${fake.address().port}/v1`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage"],
});
// The pages follow the browser's language until the switch is used: this one asks for English
// whatever the machine's locale is.
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
const page = await context.newPage();
// Nothing may be loaded from anywhere but this server.
const foreign = [];
page.on("request", (request) => {
  const url = request.url();
  if (!url.startsWith(base) && !url.startsWith("data:")) foreign.push(url);
});
const consoleErrors = [];
page.on("console", (message) => {
  // A form sent back with its errors answers 422, which the browser logs: that is expected.
  if (message.type() === "error" && !/status of 422/.test(message.text())) {
    consoleErrors.push(message.text());
  }
});
page.on("pageerror", (error) => consoleErrors.push(String(error)));

let worker = null;
const results = [];
async function step(name, body) {
  const started = Date.now();
  try {
    await body();
    await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
    results.push(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    await page.screenshot({ path: `${shots}/${name}-FAILED.png`, fullPage: true }).catch(() => {});
    results.push(`FAIL ${name}: ${error.stack || error}`);
    throw error;
  }
}

async function chooseByText(selector, text) {
  const value = await page.$eval(selector, (select, wanted) => {
    const option = [...select.options].find((o) => o.textContent.includes(wanted));
    return option ? option.value : null;
  }, text);
  assert.ok(value !== null, `no option containing ${text} in ${selector}`);
  await page.selectOption(selector, value);
}

try {
  await step("01-account", async () => {
    await page.goto(`${base}/accounts`);
    await page.fill('#new-account input[name="initial_balance"]', "25000");
    await page.fill('#new-account input[name="commission_rate_buy"]', "0.0005");
    await page.click("#create-account");
    await page.waitForSelector("#account-created");
    assert.match(await page.textContent("#accounts"), /25000/);
    // A bad value is named next to its field.
    await page.fill('#new-account input[name="initial_balance"]', "-1");
    await page.click("#create-account");
    await page.waitForSelector('[data-error="initial_balance"]');
  });

  let templateUrl;
  await step("02-template", async () => {
    await page.goto(`${base}/templates`);
    // A template with a mistake is refused with its line.
    await page.fill('#new-template textarea[name="content"]', "Close {{ bars[-1].close }}\n{{ rsi }}");
    await page.click("#create-template");
    await page.waitForSelector('[data-error="content"]');
    assert.match(await page.textContent('[data-error="content"]'), /line 2/);
    await page.fill('#new-template textarea[name="content"]',
      "{{ symbol }} at {{ now }}: close {{ bars[-1].close }}, RSI {{ indicators.rsi_14 }}.\nPosition {{ position.side }}, cash {{ cash }}.\nDecide.");
    await page.fill('#new-template input[name="description"]', "browser test");
    await page.click("#create-template");
    await page.waitForURL(/\/templates\/[0-9A-Z]+/);
    templateUrl = page.url();
    await chooseByText('#preview-form select[name="series"]', "GOOG");
    await page.fill('#preview-form input[name="at"]', "2012-03-01");
    await page.click("#preview-button");
    await page.waitForSelector("#preview-prompt");
    assert.match(await page.textContent("#preview-prompt"), /^GOOG at 2012-03-01/);
  });

  let ruleTask;
  await step("03-backtest-live-progress", async () => {
    await page.goto(`${base}/backtests/new`);
    await chooseByText('select[name="series"]', "INDEX2006");
    await chooseByText('select[name="account_id"]', "25000");
    await page.selectOption('select[name="strategy"]', "builtin:sma-cross");
    await page.fill('input[name="params"]', "fast=10 slow=30 short=true");
    await page.click("#start-backtest");
    await page.waitForURL(/\/tasks\/[0-9A-Z]+$/);
    ruleTask = page.url().split("/").pop();
    // No worker runs yet: the list shows the task at 0%, and follows it live once one does.
    await page.goto(`${base}/`);
    const row = `tr[data-task="${ruleTask}"]`;
    await page.waitForSelector(row);
    assert.equal((await page.textContent(`${row} [data-role="progress"] span`)).trim(), "0%");
    await page.evaluate(() => { window.__notReloaded = true; });
    worker = spawn(process.env.AIBT_BIN, ["worker", "--worker-id", "browser-test", "--poll-ms", "100"], {
      env: { ...process.env, RUST_LOG: "warn" }, stdio: "ignore",
    });
    await page.waitForFunction((selector) =>
      document.querySelector(`${selector} [data-role="progress"] span`)?.textContent.trim() === "100%",
      row, { timeout: 120000 });
    await page.waitForFunction((selector) =>
      document.querySelector(`${selector} [data-role="status"]`)?.className.includes("COMPLETED"),
      row, { timeout: 30000 });
    assert.equal(await page.evaluate(() => window.__notReloaded), true, "the page reloaded");
  });

  await step("04-task-page", async () => {
    await page.goto(`${base}/tasks/${ruleTask}`);
    await page.waitForSelector("#price-chart canvas");
    await page.waitForFunction(() => Number(document.querySelector("#price-chart").dataset.markers) > 0);
    const markers = Number(await page.getAttribute("#price-chart", "data-markers"));
    assert.ok(markers > 5, `${markers} markers`);
    await page.waitForSelector("#equity-chart canvas");
    await page.waitForSelector("#drawdown-chart canvas");
    assert.match(await page.textContent("#stats"), /Sharpe ratio/);
    assert.match(await page.textContent("#key-stats"), /Return/);
    assert.ok((await page.$$("#trades tbody tr")).length > 5);
    assert.ok((await page.$$("#decisions tbody tr")).length > 5);
  });

  let aiTask;
  await step("05-ai-config", async () => {
    await page.goto(`${base}/ai-configs`);
    await page.fill('#new-ai-config input[name="name"]', "fake model");
    await page.fill('#new-ai-config input[name="local_ai_base_url"]', fakeUrl);
    await page.fill('#new-ai-config input[name="local_ai_model_name"]', "fake");
    await page.fill('#new-ai-config input[name="local_ai_api_key"]', "sk-browser-secret-9876");
    await page.fill('#new-ai-config input[name="knowledge_cutoff"]', "2024-06-30");
    await page.selectOption('#new-ai-config select[name="decision_mode"]', "tools");
    await page.click('#new-ai-config button[type="submit"]');
    await page.waitForSelector("#ai-configs td[data-role=key]");
    assert.equal((await page.textContent("#ai-configs td[data-role=key]")).trim(), "****9876");
    assert.ok(!(await page.content()).includes("sk-browser-secret"), "the key is shown");
    await page.click("#ai-configs button");
    await page.waitForSelector("#ai-configs .test-result .alert.ok");
  });

  await step("06-ai-backtest-prompt", async () => {
    await page.goto(`${base}/backtests/new`);
    await chooseByText('select[name="series"]', "GOOG");
    await page.fill('input[name="start_date"]', "2012-03-01");
    await page.fill('input[name="end_date"]', "2012-03-30");
    await page.selectOption('select[name="strategy"]', "template");
    await chooseByText('select[name="user_prompt_id"]', "browser test");
    await chooseByText('select[name="ai_config_id"]', "fake model");
    await page.click("#start-backtest");
    await page.waitForURL(/\/tasks\/[0-9A-Z]+$/);
    aiTask = page.url().split("/").pop();
    // The page follows the run and reloads itself when it has finished.
    await page.waitForFunction(() => document.querySelector("#task-head")?.dataset.status === "COMPLETED",
      null, { timeout: 120000 });
    await page.waitForSelector("#memorisation");
    assert.match(await page.textContent("#model-stats"), /LLM calls/);
    // What the model chose, in shares; a third each is no cause for a warning.
    assert.match(await page.textContent("#model-stats"), /Action mix\s*Buy \d+ %/);
    assert.equal(await page.$("#degenerate"), null);
    await page.click("#decisions tbody tr button");
    await page.waitForSelector("#decision-dialog[open] #decision-prompt");
    assert.match(await page.textContent("#decision-prompt"), /^GOOG at 2012-03-/);
    assert.match(await page.textContent("#decision-answer"), /fake model says/);
    // The thinking is there, folded until asked for.
    assert.equal(await page.getAttribute("#decision-thinking", "open"), null);
    assert.equal(await page.isVisible("#decision-thinking pre"), false);
    await page.click("#decision-thinking summary");
    assert.match(await page.textContent("#decision-thinking pre"), /weighing (BUY|HOLD|SELL)$/);
    // The model decided with tools: its calls and their results, folded like the thinking.
    assert.equal(await page.getAttribute("#decision-tools", "open"), null);
    await page.click("#decision-tools summary");
    const transcript = await page.textContent("#decision-tools");
    assert.match(transcript, /get_position\(\{\}\)/);
    assert.match(transcript, /"capacity"/);
    assert.match(transcript, /submit_decision\(\{"action":"(BUY|HOLD|SELL)"/);
    assert.match(await page.textContent("#model-stats"), /Tool calls\s*\d+/);
  });

  await step("07-chinese", async () => {
    await page.keyboard.press("Escape");
    await page.click("#lang-zh");
    await page.waitForURL(new RegExp(`/tasks/${aiTask}$`));
    assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
    const text = await page.textContent("body");
    for (const label of ["回测", "统计指标", "决策记录", "交易记录", "收益率"]) {
      assert.ok(text.includes(label), `no ${label}`);
    }
    for (const label of ["Statistics", "Decisions", "Trades", "Sharpe ratio", "Export"]) {
      assert.ok(!text.includes(label), `English left: ${label}`);
    }
    await page.screenshot({ path: `${shots}/07-chinese-task.png` });
    await page.goto(`${base}/backtests/new`);
    const form = await page.textContent("#new-backtest");
    assert.ok(form.includes("初始资金") && !form.includes("Initial cash"));
    await page.click("#lang-en");
    await page.waitForURL(/\/backtests\/new$/);
    assert.equal(await page.getAttribute("html", "lang"), "en");
  });

  await step("08-broken-csv", async () => {
    await page.goto(`${base}/market-data`);
    await page.setInputFiles('#upload input[name="file"]', {
      name: "broken.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10,9,11,10,100\n"),
    });
    await page.fill('#upload input[name="symbol"]', "BROKEN");
    await page.click("#upload-button");
    await page.waitForSelector("#upload-error");
    const error = await page.textContent("#upload-error");
    assert.match(error, /broken\.csv:3/);
    assert.match(error, /high/);
    // Dated context: an Excel workbook is imported, a CSV with a day given twice is refused.
    await page.setInputFiles('#context-upload input[name="file"]',
      fileURLToPath(new URL("../../../aibt-data/tests/fixtures/context.xlsx", import.meta.url)));
    await page.fill('#context-upload input[name="stock_symbol"]', "GOOG");
    await page.click("#context-button");
    await page.waitForSelector("#context-result #upload-ok");
    assert.match(await page.textContent("#context-result"), /GOOG · 4 .* 2012-03-01 → 2012-03-06/);
    await page.setInputFiles('#context-upload input[name="file"]', {
      name: "twice.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("date,trend\n2024-01-02,up\n2024-01-02,down\n"),
    });
    await page.click("#context-button");
    await page.waitForSelector("#context-result #upload-error");
    assert.match(await page.textContent("#context-result"), /twice\.csv:3/);
  });

  await step("08b-import-preview", async () => {
    await page.goto(`${base}/market-data`);
    // A Chinese broker's export with a title line: the preview finds the header and every
    // column by itself, and the file imports with nothing mapped.
    await page.setInputFiles('#upload input[name="file"]', {
      name: "000001.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("平安银行(000001) 日线\n日期,开盘,最高,最低,收盘,成交量\n2024-01-02,9.39,9.42,9.21,9.21,1158366\n2024-01-03,9.19,9.22,9.15,9.20,733610\n"),
    });
    await page.waitForSelector("#preview-ready");
    assert.equal(await page.inputValue("#map-time"), "日期");
    assert.equal(await page.inputValue("#map-close"), "收盘");
    assert.equal(await page.inputValue("#map-volume"), "成交量");
    assert.match(await page.textContent("#preview-format"), /UTF-8/);
    assert.match(await page.textContent("#preview-rows"), /9\.39/);
    await page.screenshot({ path: `${shots}/08b-preview-recognised.png` });
    await page.fill('#upload input[name="symbol"]', "000001");
    await page.click("#upload-button");
    await page.waitForSelector("#upload-result #upload-ok");
    assert.match(await page.textContent("#upload-result"), /000001 US daily · 2 /);
    // Unknown headers: the preview says what is missing; each column chosen in the form
    // (every choice reads the file again), the file imports.
    await page.setInputFiles('#upload input[name="file"]', {
      name: "odd.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("day,o,h,l,c,qty\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1.5,2,1,1.8,12\n"),
    });
    await page.waitForSelector("#preview-problem");
    assert.match(await page.textContent("#preview-problem"), /no time column/);
    for (const [role, column] of [["time", "day"], ["open", "o"], ["high", "h"], ["low", "l"], ["close", "c"], ["volume", "qty"]]) {
      // Each choice swaps in a new preview: mark the old one, choose, wait for its successor.
      await page.$eval("#preview-box", (box) => { box.dataset.old = "1"; });
      await page.selectOption(`#map-${role}`, column);
      await page.waitForSelector("#preview-box:not([data-old])");
      assert.equal(await page.inputValue(`#map-${role}`), column);
    }
    await page.waitForSelector("#preview-ready");
    await page.screenshot({ path: `${shots}/08b-preview-mapped.png` });
    await page.fill('#upload input[name="symbol"]', "ODD");
    await page.click("#upload-button");
    await page.waitForSelector("#upload-result #upload-ok");
    assert.match(await page.textContent("#upload-result"), /ODD US daily · 2 .*imported from odd\.csv/);
    await page.goto(`${base}/market-data`);
    assert.match(await page.textContent("#series"), /imported from odd\.csv/);
  });

  await step("09-compare", async () => {
    await page.goto(`${base}/compare?task_ids=${ruleTask}&task_ids=${aiTask}`);
    await page.waitForSelector("#compare-chart canvas");
    assert.equal(await page.getAttribute("#compare-chart", "data-lines"), "2");
    assert.ok((await page.$$("#compare-stats tbody tr")).length > 10);
  });

  await step("10-phone", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of [`/tasks/${ruleTask}`, "/", "/backtests/new", "/market-data"]) {
      await page.goto(`${base}${path}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${path} is ${overflow}px wider than a phone`);
    }
    await page.goto(`${base}/tasks/${ruleTask}`);
    await page.waitForSelector("#price-chart canvas");
    await page.screenshot({ path: `${shots}/10-phone-task.png` });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step("11-long-strategy-names", async () => {
    // A rule with all its parameters, and a replay (named by the whole id of its source).
    const account = await (await page.request.post(`${base}/api/v1/accounts`, {
      data: { market_type: "US", initial_balance: "10000" },
    })).json();
    const long = "builtin:rsi-reversion (lower=25 period=10 short=true upper=75)";
    const created = [];
    for (const body of [
      { strategy: "builtin:rsi-reversion", options: { params: { lower: "25", period: "10", short: "true", upper: "75" } } },
      { strategy: `replay:${ruleTask}` },
    ]) {
      const response = await page.request.post(`${base}/api/v1/tasks`, {
        data: { account_id: account.account_id, stock_symbol: "GOOG", ...body },
      });
      assert.equal(response.status(), 201, await response.text());
      created.push((await response.json()).task_id);
    }
    for (const [width, height, name] of [[1280, 800, "11-task-list-desktop"], [390, 844, "11-task-list-phone"]]) {
      await page.setViewportSize({ width, height });
      await page.goto(`${base}/`);
      const layout = await page.evaluate((ids) => {
        const row = (id) => document.querySelector(`tr[data-task="${id}"]`);
        const cells = (tr) => [...tr.children].map((td) => Math.round(td.getBoundingClientRect().left));
        const strategy = (tr) => tr.children[2];
        const table = document.getElementById("tasks");
        return {
          header: cells(table.querySelector("thead tr")),
          rows: [...table.querySelectorAll("tbody tr")].map(cells),
          heights: ids.map((id) => Math.round(row(id).getBoundingClientRect().height)),
          titles: ids.map((id) => strategy(row(id)).title),
          clipped: ids.map((id) => strategy(row(id)).scrollWidth > strategy(row(id)).clientWidth),
          sideways: table.parentElement.scrollWidth - table.parentElement.clientWidth,
          overflow: document.documentElement.scrollWidth - window.innerWidth,
        };
      }, [...created, aiTask]);
      for (const cells of layout.rows) assert.deepEqual(cells, layout.header, "a column moved");
      assert.equal(layout.titles[0], long);
      assert.equal(layout.titles[1], `replay:${ruleTask}`);
      assert.deepEqual(layout.clipped.slice(0, 2), [true, true], "long strategies are cut, not wrapped");
      // As tall as the row of a short strategy over the same period: nothing wrapped.
      assert.equal(new Set(layout.heights).size, 1, `rows of unequal height: ${layout.heights}`);
      assert.ok(layout.overflow <= 1, `the page is ${layout.overflow}px wider than the screen`);
      if (width === 1280) assert.ok(layout.sideways <= 1, `the list scrolls ${layout.sideways}px sideways`);
      await page.screenshot({ path: `${shots}/${name}.png` });
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step("12-browser-language", async () => {
    // A browser that asks for Chinese, with no cookie yet, gets Chinese…
    const chinese = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "zh-CN" });
    const other = await chinese.newPage();
    try {
      await other.goto(`${base}/backtests/new`);
      assert.equal(await other.getAttribute("html", "lang"), "zh-CN");
      assert.ok((await other.textContent("#new-backtest")).includes("初始资金"));
      // …until the person picks English with the switch, which then wins over the browser.
      await other.click("#lang-en");
      await other.waitForURL(/\/backtests\/new$/);
      assert.equal(await other.getAttribute("html", "lang"), "en");
      await other.goto(`${base}/`);
      assert.equal(await other.getAttribute("html", "lang"), "en");
      // The same for a header with q-values, as browsers send it.
      const asked = await fetch(`${base}/`, { headers: { "accept-language": "zh-CN,zh;q=0.9,en;q=0.8" } });
      assert.match(await asked.text(), /<html lang="zh-CN">/);
      const french = await fetch(`${base}/`, { headers: { "accept-language": "fr-FR,fr;q=0.9" } });
      assert.match(await french.text(), /<html lang="en">/);
    } finally {
      await chinese.close();
    }
  });

  let experimentId;
  await step("13-experiment-new", async () => {
    await page.goto(`${base}/`);
    await page.click("#nav-experiments");
    await page.waitForURL(/\/experiments$/);
    await page.click("#new-experiment");
    await page.waitForURL(/\/experiments\/new$/);
    const example = await page.inputValue('textarea[name="spec"]');
    assert.match(example, /builtin = "sma-cross"/);
    // A mistake is named next to the spec, by its field.
    await page.fill('textarea[name="spec"]', example.replace('builtin = "sma-cross"', 'builtin = "sma-cross"\nrepeats = 0'));
    await page.click("#plan-experiment");
    await page.waitForSelector('[data-error="spec"]');
    assert.match(await page.textContent('[data-error="spec"]'), /spec\.strategies\[0\]\.repeats/);
    // The plan says what would run, and creates nothing.
    await page.fill('textarea[name="spec"]', example);
    await page.click("#plan-experiment");
    await page.waitForSelector("#plan");
    assert.equal((await page.textContent('[data-plan="plan.tasks"]')).trim(), "8");
  });

  await step("14-experiment-leaderboard", async () => {
    await page.click("#run-experiment");
    await page.waitForURL(/\/experiments\/[0-9A-Z]+$/);
    experimentId = page.url().split("/").pop();
    // The worker runs the grid; the page's leaderboard fills in without a reload.
    await page.evaluate(() => { window.__notReloaded = true; });
    await page.waitForFunction(() => document.querySelectorAll("#leaderboard tbody tr").length === 10,
      null, { timeout: 60000 });
    await page.waitForFunction(() => document.querySelector("#live")?.dataset.status === "COMPLETED",
      null, { timeout: 60000 });
    assert.equal(await page.evaluate(() => window.__notReloaded), true, "the page reloaded");
    assert.equal(await page.getAttribute("#live", "hx-trigger"), null, "an ended board still refreshes");
    assert.match(await page.textContent("#leaderboard"), /Buy & hold/);
    assert.match(await page.textContent("#splits"), /Out of sample/);
    assert.equal((await page.$$("#runs tbody tr a")).length, 8);
    await page.goto(`${base}/experiments`);
    const row = `tr[data-experiment="${experimentId}"]`;
    await page.waitForSelector(row);
    assert.match(await page.getAttribute(`${row} [data-role="status"]`, "class"), /COMPLETED/);
    assert.equal((await page.textContent(`${row} [data-role="progress"] span`)).trim(), "8/8 tasks · 100%");
  });

  await step("15-experiment-report", async () => {
    await page.goto(`${base}/experiments/${experimentId}`);
    await page.click("#report-link");
    await page.waitForURL(new RegExp(`/experiments/${experimentId}/report$`));
    assert.ok((await page.content()).includes("<svg"));
    assert.equal((await page.$$("#leaderboard tbody tr")).length, 10);
    assert.ok((await page.$$("svg.chart")).length >= 4, "charts are missing");
    // Self-contained: nothing to run and nothing to fetch (its icon is an empty data: URL,
    // so that a browser does not ask the server for /favicon.ico).
    assert.equal(await page.$$eval("script, link:not([href^='data:']), img, iframe", (found) => found.length), 0);
  });

  assert.deepEqual(foreign, [], "requests to other hosts");
  assert.deepEqual(consoleErrors, [], "errors in the browser console");
  // The README's picture of the task page: two years of GOOG with a short-selling SMA cross.
  await page.goto(`${base}/backtests/new`);
  await chooseByText('select[name="series"]', "GOOG");
  await page.fill('input[name="start_date"]', "2011-01-01");
  await page.fill('input[name="end_date"]', "2012-12-31");
  await page.selectOption('select[name="strategy"]', "builtin:sma-cross");
  await page.fill('input[name="params"]', "fast=10 slow=30 short=true");
  await page.click("#start-backtest");
  await page.waitForURL(/\/tasks\/[0-9A-Z]+$/);
  await page.waitForFunction(() => document.querySelector("#task-head")?.dataset.status === "COMPLETED",
    null, { timeout: 60000 });
  await page.waitForFunction(() => Number(document.querySelector("#price-chart")?.dataset.markers) > 0);
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${shots}/task-page.png` });
} finally {
  console.log(results.join("\n"));
  worker?.kill("SIGKILL");
  await browser.close();
  fake.close();
}
