// bench_server_client.cjs — the load of the `ragtune serve` benchmarks (bench_server.sh,
// bench_serve_batch.sh): C clients at once, each sending R streaming chat requests one after
// another with T generated tokens (ignore_eos), counted from the final usage chunk. Time to
// first token is taken when the first chunk with text arrives.
// Prints one line: clients tok/s ttft_p50_s ttft_p95_s latency_p50_s latency_p95_s
// latency_p99_s failed
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
  const decoder = new TextDecoder();
  let text = "", ttft = NaN;
  for await (const bytes of r.body) {
    text += decoder.decode(bytes, { stream: true });
    // the first chunk with text (the chat stream opens with an empty one carrying the role)
    if (isNaN(ttft) && /"content":"[^"]/.test(text)) ttft = (performance.now() - t0) / 1000;
  }
  const m = text.match(/"completion_tokens":(\d+)/);
  if (!m || !text.includes("data: [DONE]")) throw new Error("incomplete stream");
  return { tokens: +m[1], seconds: (performance.now() - t0) / 1000, ttft };
}

(async () => {
  const lat = [], ttft = [];
  let total = 0, failed = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let k = 0; k < perClient; k++) {
      try {
        const r = await one(c * perClient + k);
        total += r.tokens;
        lat.push(r.seconds);
        if (!isNaN(r.ttft)) ttft.push(r.ttft);
      } catch (e) { failed++; }
    }
  }));
  const wall = (performance.now() - t0) / 1000;
  const q = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN).toFixed(3);
  };
  console.log([clients, (total / wall).toFixed(1), q(ttft, 0.5), q(ttft, 0.95), q(lat, 0.5),
    q(lat, 0.95), q(lat, 0.99), failed].join(" "));
})();
