// serve_batch.cjs — continuous batching of `ragtune serve`, driven by the official openai npm
// client: each prompt streamed alone (greedy), then all of them at once; every client must get
// exactly the text it got alone. With RT_EXPECT_BATCH=1, /metrics must also show decode steps
// of which some stepped more than one sequence (the batch really formed); with 0 (a server
// started with --no-batch), no batched step at all; with "auto", what the server's
// ragtune_batching gauge says it chose. Environment: RT_BASE_URL, RT_API_KEY (may be
// empty), RT_MODEL, RT_EXPECT_BATCH. The load benchmark is bench/bench_serve_batch.sh.
"use strict";
const assert = require("node:assert/strict");
const OpenAI = require("openai");

const base = process.env.RT_BASE_URL;
const key = process.env.RT_API_KEY || "none";
const model = process.env.RT_MODEL;
const client = new OpenAI({ baseURL: base + "/v1", apiKey: key, maxRetries: 0, timeout: 600000 });

const prompts = ["the quick brown fox", "Paris is the capital", "line 7: the lazy dog",
  "jumps over", "brown fox jumps over the lazy dog. Paris", "capital of France. line"];

async function stream(prompt, maxTokens) {
  const s = await client.chat.completions.create({ model, max_tokens: maxTokens, temperature: 0,
    ignore_eos: true, stream: true, stream_options: { include_usage: true },
    messages: [{ role: "user", content: prompt }] });
  let text = "", tokens = 0;
  for await (const c of s) {
    for (const ch of c.choices) if (ch.delta && ch.delta.content) text += ch.delta.content;
    if (c.usage) tokens = c.usage.completion_tokens;
  }
  return { text, tokens };
}

async function metric(name) {
  const r = await fetch(base + "/metrics", { headers: { Authorization: "Bearer " + key } });
  const m = (await r.text()).match(new RegExp("^" + name + " (\\d+)", "m"));
  return m ? Number(m[1]) : NaN;
}

async function check() {
  const alone = [];
  for (const p of prompts) alone.push(await stream(p, 24));
  const steps0 = await metric("ragtune_decode_steps_total");
  const seqs0 = await metric("ragtune_decode_step_sequences_total");
  const together = await Promise.all(prompts.map((p) => stream(p, 24)));
  const steps = (await metric("ragtune_decode_steps_total")) - steps0;
  const seqs = (await metric("ragtune_decode_step_sequences_total")) - seqs0;
  for (let i = 0; i < prompts.length; i++) {
    assert.equal(together[i].tokens, 24, "client " + i + " tokens");
    assert.equal(together[i].text, alone[i].text, "client " + i + ": batched text differs from alone");
  }
  const mean = steps ? seqs / steps : 0;
  console.log(`${prompts.length} concurrent clients: same greedy text as alone; ${steps} batched ` +
    `decode steps of ${mean.toFixed(2)} sequences on average`);
  const expect = process.env.RT_EXPECT_BATCH;
  const switches = await metric("ragtune_batching_switches_total");
  if (expect === "auto") {
    // the server goes on choosing from the tokens/s it measures, so its mode may change at any
    // window: the texts above are the check; here only that it reports a mode and its switches
    const chosen = await metric("ragtune_batching");
    assert.ok(chosen === 0 || chosen === 1, "ragtune_batching gauge: " + chosen);
    assert.ok(Number.isInteger(switches) && switches >= 0, "switches: " + switches);
    console.log(`the server's batching is ${chosen ? "on" : "off"} after ${switches} switches`);
    return;
  }
  assert.equal(await metric("ragtune_batching"), Number(expect), "ragtune_batching gauge");
  assert.equal(switches, 0, "a forced mode changed");
  if (expect === "1")
    // some step carried more than one sequence (how many depends on the machine's scheduling)
    assert.ok(steps > 0 && seqs > steps, "the decode steps were not batched (mean " + mean + ")");
  else
    assert.equal(steps, 0, "--no-batch ran batched steps");
}

check().catch((e) => { console.error("FAIL", e && e.stack ? e.stack : e); process.exit(1); });
