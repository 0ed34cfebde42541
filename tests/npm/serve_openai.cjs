// serve_openai.cjs — drives a running `ragtune serve` with the official openai npm client
// (pinned in package.json): models, chat (plain, streaming, seeded), completions (n, stop),
// embeddings (float and base64), typed errors, collections + RAG with annotations, files and a
// fine-tuning job to completion, then chat with the ft: model and concurrent requests with and
// without its adapter. Started by tests/cli/serve.sh with RT_BASE_URL, RT_API_KEY, RT_MODEL and
// RT_WORK (a scratch directory). Prints "N passed, M failed"; exits 1 on any failure.
"use strict";
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const OpenAI = require("openai");

const base = process.env.RT_BASE_URL;
const key = process.env.RT_API_KEY;
const model = process.env.RT_MODEL;
const work = process.env.RT_WORK;
const client = new OpenAI({ baseURL: base + "/v1", apiKey: key, maxRetries: 0, timeout: 120000 });

let passed = 0, failed = 0;
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log("ok   " + name);
  } catch (e) {
    failed++;
    console.log("FAIL " + name + ": " + (e && e.stack ? e.stack : e));
  }
}
async function http(method, p, body) {
  const r = await fetch(base + p, { method, headers: { Authorization: "Bearer " + key,
    "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const chatMsgs = [{ role: "system", content: "Answer briefly." }, { role: "user", content: "the quick brown fox" }];

(async () => {
  await test("models.list has the base model", async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes(model), ids.join(","));
    const m = await client.models.retrieve(model);
    assert.equal(m.id, model);
  });

  let greedy;
  await test("chat completion (greedy): text, usage, finish_reason", async () => {
    const r = await client.chat.completions.create({ model, messages: chatMsgs, max_tokens: 8, temperature: 0 });
    assert.equal(r.object, "chat.completion");
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, "assistant");
    assert.equal(typeof r.choices[0].message.content, "string");
    assert.ok(["stop", "length"].includes(r.choices[0].finish_reason));
    assert.ok(r.usage.prompt_tokens > 0);
    assert.ok(r.usage.completion_tokens <= 8);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    greedy = r.choices[0].message.content;
    const again = await client.chat.completions.create({ model, messages: chatMsgs, max_tokens: 8, temperature: 0 });
    assert.equal(again.choices[0].message.content, greedy, "greedy is deterministic");
  });

  await test("chat completion: max_tokens reached gives finish_reason length", async () => {
    const r = await client.chat.completions.create({ model, messages: chatMsgs, max_tokens: 3,
      temperature: 0, ignore_eos: true });
    assert.equal(r.choices[0].finish_reason, "length");
    assert.equal(r.usage.completion_tokens, 3);
  });

  await test("chat completion: seeded sampling repeats, n choices", async () => {
    const p = { model, messages: chatMsgs, max_tokens: 6, temperature: 0.9, top_p: 0.95, seed: 11, n: 2 };
    const a = await client.chat.completions.create(p);
    const b = await client.chat.completions.create(p);
    assert.equal(a.choices.length, 2);
    assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
    assert.deepEqual(a.choices.map((c) => c.index), [0, 1]);
  });

  await test("chat streaming: deltas add up to the non-streamed text, usage at the end", async () => {
    const stream = await client.chat.completions.create({ model, messages: chatMsgs, max_tokens: 8,
      temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = "", finish = null, usage = null, chunks = 0;
    for await (const c of stream) {
      chunks++;
      assert.equal(c.object, "chat.completion.chunk");
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        if (ch.delta && ch.delta.content) text += ch.delta.content;
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    assert.ok(chunks >= 2);
    assert.equal(text, greedy);
    assert.ok(["stop", "length"].includes(finish));
    assert.ok(usage && usage.completion_tokens <= 8 && usage.prompt_tokens > 0);
  });

  await test("completions: prompt, n, stop", async () => {
    const r = await client.completions.create({ model, prompt: "the quick", max_tokens: 6, n: 2,
      temperature: 0, stop: ["\n"] });
    assert.equal(r.object, "text_completion");
    assert.equal(r.choices.length, 2);
    assert.equal(r.choices[0].text, r.choices[1].text, "greedy choices agree");
    for (const c of r.choices) assert.ok(!c.text.includes("\n"), "stop string not in the output");
  });

  await test("completions streaming", async () => {
    const stream = await client.completions.create({ model, prompt: "the quick", max_tokens: 5,
      temperature: 0, stream: true });
    let text = "";
    for await (const c of stream) for (const ch of c.choices) text += ch.text;
    const plain = await client.completions.create({ model, prompt: "the quick", max_tokens: 5, temperature: 0 });
    assert.equal(text, plain.choices[0].text);
  });

  await test("embeddings: list input, unit vectors, base64 and float agree", async () => {
    const r = await client.embeddings.create({ model, input: ["the quick brown fox", "lazy dog"] });
    assert.equal(r.data.length, 2);
    const v = r.data[0].embedding;
    assert.ok(v.length > 0);
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-3, "norm " + norm);
    const f = await client.embeddings.create({ model, input: "the quick brown fox", encoding_format: "float" });
    assert.equal(f.data.length, 1);
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - f.data[0].embedding[i]) < 1e-6);
  });

  await test("errors are the client's typed errors", async () => {
    const bad = new OpenAI({ baseURL: base + "/v1", apiKey: "wrong-key", maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    await assert.rejects(client.chat.completions.create({ model, messages: chatMsgs, temperature: 5 }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === "temperature");
    await assert.rejects(client.chat.completions.create({ model, messages: [] }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === "messages");
    await assert.rejects(client.chat.completions.create({ model: "no-such-model", messages: chatMsgs }),
      (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  });

  await test("collections: create, upload, search (both shapes), chat with citations", async () => {
    let r = await http("POST", "/v1/collections", { name: "kb" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await http("POST", "/v1/collections", { name: "kb" });
    assert.equal(r.status, 409);
    r = await http("POST", "/v1/collections/kb/documents", { documents: [
      { id: "paris", text: "Paris is the capital of France. The Eiffel Tower stands in Paris." },
      { id: "fox", text: "The quick brown fox jumps over the lazy dog." }] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.documents, 2);
    r = await http("POST", "/v1/collections/kb/search", { query: "capital of France", k: 2 });
    assert.equal(r.status, 200);
    assert.equal(r.body.data[0].doc_id, "paris");
    const page = await client.vectorStores.search("kb", { query: "capital of France", max_num_results: 1 });
    assert.equal(page.data.length, 1);
    assert.equal(page.data[0].file_id, "paris");
    assert.match(page.data[0].content[0].text, /Paris/);
    const c = await client.chat.completions.create({ model, collection: "kb", max_tokens: 16,
      messages: [{ role: "user", content: "What is the capital of France?" }] });
    assert.equal(typeof c.choices[0].message.content, "string");
    assert.ok(Array.isArray(c.choices[0].message.annotations));
    assert.equal(typeof c.ragtune.groundedness, "number");
    assert.equal(typeof c.ragtune.abstained, "boolean");
    const t = await client.chat.completions.create({ model, max_tokens: 16,
      tools: [{ type: "file_search", file_search: { vector_store_ids: ["kb"] } }],
      messages: [{ role: "user", content: "What is the capital of France?" }] });
    assert.equal(t.ragtune.collection, "kb");
    r = await http("DELETE", "/v1/collections/kb/documents/fox");
    assert.equal(r.status, 200);
    r = await http("DELETE", "/v1/collections/kb/documents/fox");
    assert.equal(r.status, 404);
  });

  await test("collections: a bad upload keeps nothing", async () => {
    let r = await http("POST", "/v1/collections/kb/documents", { documents: [
      { id: "ok1", text: "fine text" }, { id: "bad", text: 42 }] });
    assert.equal(r.status, 400);
    r = await http("GET", "/v1/collections/kb");
    assert.equal(r.body.documents, 1);
  });

  let ftModel;
  await test("files + fine-tuning job to completion, then chat with the ft: model", async () => {
    const data = path.join(work, "train.jsonl");
    const lines = [];
    for (let i = 0; i < 24; i++) lines.push(JSON.stringify({ prompt: "the quick brown", completion: " fox jumps" }));
    fs.writeFileSync(data, lines.join("\n") + "\n");
    const file = await client.files.create({ file: fs.createReadStream(data), purpose: "fine-tune" });
    assert.match(file.id, /^file-/);
    assert.equal(file.purpose, "fine-tune");
    const listed = await client.files.list();
    assert.ok(listed.data.some((f) => f.id === file.id));
    let job = await client.fineTuning.jobs.create({ model, training_file: file.id, suffix: "t1",
      ragtune: { max_steps: 6, seq_len: 16, batch_size: 2, lora_rank: 4, lr: 0.05, save_every: 3 } });
    assert.match(job.id, /^ftjob-/);
    const t0 = Date.now();
    while (!["succeeded", "failed", "cancelled"].includes(job.status) && Date.now() - t0 < 300000) {
      await sleep(300);
      job = await client.fineTuning.jobs.retrieve(job.id);
    }
    assert.equal(job.status, "succeeded", JSON.stringify(job.error));
    assert.equal(job.fine_tuned_model, "ft:" + model + ":t1");
    ftModel = job.fine_tuned_model;
    const events = await client.fineTuning.jobs.listEvents(job.id);
    assert.ok(events.data.some((e) => /Step 6\/6/.test(e.message)), events.data.map((e) => e.message).join("|"));
    const ckpts = await client.fineTuning.jobs.checkpoints.list(job.id);
    assert.ok(ckpts.data.some((c) => c.step_number === 3));
    const jobs = await client.fineTuning.jobs.list();
    assert.ok(jobs.data.some((j) => j.id === job.id));
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes(ftModel));
    const r = await client.chat.completions.create({ model: ftModel, messages: chatMsgs, max_tokens: 4 });
    assert.equal(r.model, ftModel);
  });

  await test("adapters per request do not leak into concurrent requests", async () => {
    assert.ok(ftModel, "needs the fine-tuned model");
    const ask = (m) => client.completions.create({ model: m, prompt: "the quick brown", max_tokens: 6,
      temperature: 0, ignore_eos: true }).then((r) => r.choices[0].text);
    const alone = { base: await ask(model), ft: await ask(ftModel) };
    const both = await Promise.all([ask(model), ask(ftModel), ask(model), ask(ftModel)]);
    assert.deepEqual(both, [alone.base, alone.ft, alone.base, alone.ft]);
    const list = await http("GET", "/lora-adapters");
    const id = list.body.find((a) => a.name === ftModel).id;
    const viaField = await client.completions.create({ model, prompt: "the quick brown", max_tokens: 6,
      temperature: 0, ignore_eos: true, lora: [{ id, scale: 1.0 }] });
    assert.equal(viaField.choices[0].text, alone.ft);
  });

  await test("an invalid training file fails in validating_files naming the line", async () => {
    const data = path.join(work, "bad.jsonl");
    fs.writeFileSync(data, '{"prompt":"a","completion":"b"}\n{"prompt": 3}\n');
    const file = await client.files.create({ file: fs.createReadStream(data), purpose: "fine-tune" });
    let job = await client.fineTuning.jobs.create({ model, training_file: file.id });
    const t0 = Date.now();
    while (!["succeeded", "failed", "cancelled"].includes(job.status) && Date.now() - t0 < 60000) {
      await sleep(200);
      job = await client.fineTuning.jobs.retrieve(job.id);
    }
    assert.equal(job.status, "failed");
    assert.match(job.error.message, /line 2/);
    await assert.rejects(client.fineTuning.jobs.create({ model, training_file: "file-nope" }),
      (e) => e instanceof OpenAI.NotFoundError);
  });

  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
