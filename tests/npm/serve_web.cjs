// serve_web.cjs — the web page of a running `ragtune serve` in Debian's headless chromium,
// driven by playwright-core: create a collection and add a document, ask a question and see the
// answer with a link to its source, start a fine-tuning job from a file and see it succeed, then
// chat with the resulting ft: model. Env: RT_BASE_URL, RT_API_KEY, RT_WORK. Prints
// "N passed, M failed" and saves a screenshot of each tab in RT_WORK.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const os = require("node:os");
const { chromium } = require("playwright-core");

const base = process.env.RT_BASE_URL, key = process.env.RT_API_KEY, work = process.env.RT_WORK;
let passed = 0, failed = 0, page = null;
async function step(name, fn) {
  try { await fn(); passed++; console.log("ok   " + name); }
  catch (e) {
    failed++;
    console.log("FAIL " + name + ": " + String(e && e.message ? e.message : e).split("\n")[0]);
    if (page) await page.screenshot({ path: path.join(work, "web-failed-" + failed + ".png"), fullPage: true }).catch(() => {});
  }
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "rt-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(30000);
  page.on("pageerror", (e) => console.log("page error: " + e.message));
  try {
    await step("the page loads and takes the key", async () => {
      await page.goto(base + "/");
      await page.fill("#key", key);
      await page.dispatchEvent("#key", "change");
      await page.click("#refresh-collections");
    });
    await step("ask a collection: answer with a source link", async () => {
      await page.click("summary");
      await page.fill("#new-collection", "web");
      await page.click("#create-collection");
      await page.waitForFunction(() => document.getElementById("doc-status").textContent.startsWith("created"));
      await page.fill("#doc-id", "rivers");
      await page.fill("#doc-text", "The Seine flows through Paris. The Thames flows through London.");
      await page.click("#add-doc");
      await page.waitForFunction(() => document.getElementById("doc-status").textContent.startsWith("added"));
      await page.fill("#question", "Which river flows through Paris?");
      await page.click("#ask-go");
      await page.waitForSelector("#ask-result:not([hidden])");
      const link = await page.waitForSelector("a.source-link");
      const href = await link.getAttribute("href");
      if (!/^#source-\d+$/.test(href)) throw new Error("source link " + href);
      await link.click();
      const src = await page.textContent(href);
      if (!src.includes("rivers") || !src.includes("Seine")) throw new Error("source text: " + src);
      await page.screenshot({ path: path.join(work, "web-ask.png"), fullPage: true });
    });
    let ftModel = null;
    await step("start a fine-tuning job and see it succeed", async () => {
      const data = path.join(work, "web-train.jsonl");
      fs.writeFileSync(data, Array.from({ length: 16 }, () => JSON.stringify({ prompt: "Seine", completion: " Paris" })).join("\n") + "\n");
      await page.click("nav button[data-tab=jobs]");
      await page.setInputFiles("#job-file", data);
      await page.fill("#job-suffix", "web");
      await page.fill("#job-steps", "3");
      await page.click("#job-go");
      await page.waitForFunction(() => [...document.querySelectorAll("#job-rows td.status")]
        .some((td) => td.textContent === "succeeded" &&
              td.parentElement.textContent.includes(":web")), null, { timeout: 120000 });
      ftModel = await page.evaluate(() => [...document.querySelectorAll("#job-rows tr")]
        .map((tr) => tr.children[2].textContent).find((t) => t.endsWith(":web")));
      await page.screenshot({ path: path.join(work, "web-jobs.png"), fullPage: true });
    });
    await step("chat with the fine-tuned model (streamed)", async () => {
      if (!ftModel) throw new Error("no fine-tuned model");
      await page.click("nav button[data-tab=chat]");
      await page.waitForFunction((m) => [...document.querySelectorAll("#chat-model option")].some((o) => o.value === m), ftModel);
      await page.selectOption("#chat-model", ftModel);
      await page.fill("#chat-input", "Seine");
      await page.click("#chat-go");
      await page.waitForFunction(() => document.querySelectorAll("#chat-log .msg").length === 2 &&
        !document.getElementById("chat-error").textContent);
      await page.screenshot({ path: path.join(work, "web-chat.png"), fullPage: true });
    });
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.log("FAIL " + e); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
