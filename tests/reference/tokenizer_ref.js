#!/usr/bin/env node
// Reference for ragtune's tokenizer tests: encodes every line of a JSONL corpus (one JSON
// string per line) with the Hugging Face tokenizers library (native Rust build,
// @anush008/tokenizers) and writes, per line, one JSON object {"ids":[...],"text":decoded}.
//
// usage: node tokenizer_ref.js TOKENIZER.json CORPUS.jsonl OUT.jsonl ADD_SPECIAL(0|1)
//        node tokenizer_ref.js --bench TOKENIZER.json CORPUS.jsonl REPEATS
//   --bench prints "mbps <median MB/s>" for single-threaded encoding of the whole corpus.
'use strict';
process.env.RAYON_NUM_THREADS = process.env.RAYON_NUM_THREADS || '1';
process.env.TOKENIZERS_PARALLELISM = 'false';
const fs = require('fs');
const path = require('path');
const npm = path.join(__dirname, '..', 'npm', 'node_modules');
const { Tokenizer } = require(path.join(npm, '@anush008', 'tokenizers'));

function readCorpus(file) {
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0)
        .map((l) => JSON.parse(l));
}

async function main() {
    const args = process.argv.slice(2);
    if (args[0] === '--bench') {
        const tok = Tokenizer.fromFile(args[1]);
        const lines = readCorpus(args[2]);
        const repeats = parseInt(args[3] || '5', 10);
        let bytes = 0;
        for (const l of lines) bytes += Buffer.byteLength(l, 'utf8');
        const opts = { addSpecialTokens: false };
        await tok.encodeBatch(lines.slice(0, 100), opts); // warm-up
        const times = [];
        for (let r = 0; r < repeats; r++) {
            const t0 = process.hrtime.bigint();
            await tok.encodeBatch(lines, opts);
            times.push(Number(process.hrtime.bigint() - t0) / 1e9);
        }
        times.sort((a, b) => a - b);
        const med = times[Math.floor(times.length / 2)];
        console.log(`mbps ${(bytes / 1e6 / med).toFixed(3)} bytes ${bytes} seconds ${med.toFixed(4)}`);
        return;
    }
    const [tokFile, corpusFile, outFile, addSpecial] = args;
    const tok = Tokenizer.fromFile(tokFile);
    const lines = readCorpus(corpusFile);
    const opts = { addSpecialTokens: addSpecial === '1' };
    const encs = await tok.encodeBatch(lines, opts);
    const ids = encs.map((e) => e.getIds());
    const texts = await tok.decodeBatch(ids, false);
    const out = [];
    for (let i = 0; i < ids.length; i++) out.push(JSON.stringify({ ids: ids[i], text: texts[i] }));
    fs.writeFileSync(outFile, out.join('\n') + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
