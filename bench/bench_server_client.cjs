// bench_server_client.cjs — the load of bench/bench_server.sh: C clients at once, each sending R
// streaming chat requests one after another with T generated tokens (ignore_eos), counted from
// the final usage chunk. Prints: clients tok/s p50_s p99_s failed (one line).
"use strict";
const [base, clients, perClient, tokens] = [process.argv[2], +process.argv[3], +process.argv[4], +process.argv[5]];

async function one(i) {
  const t0 = performance.now();
  const r = await fetch(base + "/v1/chat/completions", { method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "Request " + i + ": tell me a story." }],
      max_tokens: tokens, ignore_eos: true, temperature: 0, stream: true,
      stream_options: { include_usage: true } }) });
  if (!r.ok) throw new Error("HTTP " + r.status);
  const text = await r.text();
  const m = text.match(/"completion_tokens":(\d+)/);
  if (!m || !text.includes("data: [DONE]")) throw new Error("incomplete stream");
  return { tokens: +m[1], seconds: (performance.now() - t0) / 1000 };
}

(async () => {
  const lat = [];
  let total = 0, failed = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let k = 0; k < perClient; k++) {
      try { const r = await one(c * perClient + k); total += r.tokens; lat.push(r.seconds); }
      catch (e) { failed++; }
    }
  }));
  const wall = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN;
  console.log([clients, (total / wall).toFixed(1), q(0.5).toFixed(3), q(0.99).toFixed(3), failed].join(" "));
})();
