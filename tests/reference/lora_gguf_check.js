#!/usr/bin/env node
// Independent check of a llama.cpp GGUF LoRA adapter written by ragtune: the files are parsed
// by @huggingface/gguf (not by ragtune's reader), the adapter is held to the rules llama.cpp
// applies when it loads one, and every adapted weight is recomputed as llama.cpp applies it and
// compared with the models `ragtune merge` wrote.
//
// Rules, from llama.cpp (ggml-org/llama.cpp):
//   src/llama-adapter.cpp llama_adapter_lora_init_impl:
//     - general.type == "adapter", adapter.type == "lora", general.architecture == the base's;
//     - adapter.lora.alpha read with gguf_get_val_f32, which asserts the KV type FLOAT32;
//     - every tensor name ends in ".lora_a" or ".lora_b" (or "_norm.weight"), each pair complete,
//       and "<name without the suffix>" is a tensor of the base model;
//     - shapes: base->ne[0] == a->ne[0], base->ne[1] == b->ne[1], a->ne[1] == b->ne[0].
//   src/llama-graph.cpp build_lora_mm: y += scale * B (A x), rank = b->ne[0],
//     scale = alpha ? alpha / rank : 1 (times the user's adapter scale, 1 here).
//   ggml/src/gguf.cpp gguf_init_from_file_impl: names shorter than GGML_MAX_NAME (64), n_dims
//     <= 4, general.alignment a nonzero power of two (default 32), the data section starts at
//     the aligned end of the header, and tensor i's offset equals the sum of the previous
//     tensors' sizes each padded to the alignment (so every offset is aligned).
//   convert_lora_to_gguf.py writes lora_a/lora_b as f32, f16, bf16 or q8_0 (--outtype); this
//     check reads f32 and f16 and requires one of those four.
//
// usage: node lora_gguf_check.js BASE.gguf ADAPTER.gguf MERGED.gguf [MERGED2.gguf ...]
// Prints one line per merged file; exit 0 when every rule holds and every merged weight is
// within 1e-6 (absolute) of W + scale B A computed here in float64 from the two files' data;
// weights without a LoRA pair must be bit-identical to the base's.
'use strict';
const fs = require('fs');
const path = require('path');
const npm = path.join(__dirname, '..', 'npm', 'node_modules');
const { gguf, GGMLQuantizationType, GGUFValueType } = require(path.join(npm, '@huggingface', 'gguf'));

const TOL = 1e-6;
const GGML_MAX_NAME = 64;
const ACCEPTED = new Set([GGMLQuantizationType.F32, GGMLQuantizationType.F16,
    GGMLQuantizationType.BF16, GGMLQuantizationType.Q8_0]);

function fail(msg) {
    console.error(`lora_gguf_check: ${msg}`);
    process.exit(1);
}

function halfToFloat(h) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    if (e === 0) return s * f * 2 ** -24;
    if (e === 31) return f ? NaN : s * Infinity;
    return s * (1 + f / 1024) * 2 ** (e - 15);
}

function nbytes(t) {
    const n = t.shape.reduce((a, v) => a * Number(v), 1);
    if (t.dtype === GGMLQuantizationType.F32) return 4 * n;
    if (t.dtype === GGMLQuantizationType.F16 || t.dtype === GGMLQuantizationType.BF16) return 2 * n;
    if (t.dtype === GGMLQuantizationType.Q8_0) return (n / 32) * 34;
    fail(`${t.name}: dtype ${t.dtype} not handled by this check`);
}

// Parses a file with @huggingface/gguf and checks gguf.cpp's layout rules.
async function open(file) {
    const p = await gguf(file, { allowLocalFile: true, typedMetadata: true });
    const buf = fs.readFileSync(file);
    const md = p.typedMetadata;
    if (md.version.value !== 3) fail(`${file}: GGUF version ${md.version.value}, expected 3`);
    let align = 32;
    if (md['general.alignment'] !== undefined) {
        if (md['general.alignment'].type !== GGUFValueType.UINT32) fail(`${file}: general.alignment is not u32`);
        align = md['general.alignment'].value;
        if (!(align > 0 && (align & (align - 1)) === 0)) fail(`${file}: alignment ${align}`);
    }
    const dataStart = Number(p.tensorDataOffset);
    if (dataStart % align !== 0) fail(`${file}: data section at ${dataStart}, not aligned to ${align}`);
    const byName = new Map();
    let expect = 0;
    for (const t of p.tensorInfos) {
        if (Buffer.byteLength(t.name) >= GGML_MAX_NAME) fail(`${file}: name too long: ${t.name}`);
        if (t.n_dims < 1 || t.n_dims > 4) fail(`${file}: ${t.name}: n_dims ${t.n_dims}`);
        if (byName.has(t.name)) fail(`${file}: duplicate tensor ${t.name}`);
        if (Number(t.offset) !== expect) fail(`${file}: ${t.name} at offset ${t.offset}, gguf.cpp expects ${expect}`);
        const size = nbytes(t);
        expect += Math.ceil(size / align) * align;
        if (dataStart + Number(t.offset) + size > buf.length) fail(`${file}: ${t.name} runs past the end`);
        byName.set(t.name, t);
    }
    return { file, md, buf, dataStart, align, tensors: p.tensorInfos, byName };
}

// Tensor data as float64 (f32, f16).
function values(g, t) {
    const n = t.shape.reduce((a, v) => a * Number(v), 1);
    const off = g.dataStart + Number(t.offset);
    const out = new Float64Array(n);
    if (t.dtype === GGMLQuantizationType.F32) {
        for (let i = 0; i < n; i++) out[i] = g.buf.readFloatLE(off + 4 * i);
    } else if (t.dtype === GGMLQuantizationType.F16) {
        for (let i = 0; i < n; i++) out[i] = halfToFloat(g.buf.readUInt16LE(off + 2 * i));
    } else {
        fail(`${g.file}: ${t.name}: this check reads f32 and f16 only`);
    }
    return out;
}

function str(g, key) {
    const kv = g.md[key];
    if (!kv) fail(`${g.file}: no ${key}`);
    if (kv.type !== GGUFValueType.STRING) fail(`${g.file}: ${key} is not a string`);
    return kv.value;
}

async function main() {
    const [baseFile, adapterFile, ...mergedFiles] = process.argv.slice(2);
    if (!baseFile || !adapterFile || mergedFiles.length === 0) fail('usage: BASE ADAPTER MERGED...');
    const base = await open(baseFile), ad = await open(adapterFile);

    if (str(ad, 'general.type') !== 'adapter') fail('general.type is not "adapter"');
    if (str(ad, 'adapter.type') !== 'lora') fail('adapter.type is not "lora"');
    if (str(ad, 'general.architecture') !== str(base, 'general.architecture'))
        fail('general.architecture differs from the base model');
    const alphaKV = ad.md['adapter.lora.alpha'];
    if (!alphaKV) fail('no adapter.lora.alpha');
    if (alphaKV.type !== GGUFValueType.FLOAT32) fail('adapter.lora.alpha is not FLOAT32 (gguf_get_val_f32 asserts it)');
    const alpha = alphaKV.value;

    // pairs, as llama_adapter_lora_init_impl bundles them
    const pairs = new Map();
    for (const t of ad.tensors) {
        let name, which;
        if (t.name.endsWith('.lora_a')) [name, which] = [t.name.slice(0, -7), 'a'];
        else if (t.name.endsWith('.lora_b')) [name, which] = [t.name.slice(0, -7), 'b'];
        else if (t.name.endsWith('_norm.weight')) continue;
        else fail(`tensor ${t.name} has an unexpected suffix`);
        if (!ACCEPTED.has(t.dtype)) fail(`${t.name}: dtype ${t.dtype} not one convert_lora_to_gguf.py writes`);
        if (t.n_dims !== 2) fail(`${t.name}: n_dims ${t.n_dims}`);
        const p = pairs.get(name) || {};
        p[which] = t;
        pairs.set(name, p);
    }
    if (pairs.size === 0) fail('no LoRA tensors');
    for (const [name, p] of pairs) {
        if (!p.a || !p.b) fail(`LoRA pair for ${name} is missing one component`);
        const w = base.byName.get(name);
        if (!w) fail(`LoRA tensor ${name} does not exist in the base model`);
        if (name.endsWith('token_embd.weight')) fail(`${name}: token embedding adapters are not expected`);
        if (w.shape[0] !== p.a.shape[0] || w.shape[1] !== p.b.shape[1])
            fail(`${name}: base ne [${w.shape}], lora_a ne [${p.a.shape}], lora_b ne [${p.b.shape}]`);
        if (p.a.shape[1] !== p.b.shape[0]) fail(`${name}: lora_a is not transposed`);
    }

    // W' = W + scale B A in ggml's layout: W has ne [n_in, n_out] (n_out rows of n_in),
    // A ne [n_in, r] (r rows of n_in), B ne [r, n_out] (n_out rows of r)
    const expected = new Map();
    let biggestDelta = 0;
    for (const [name, p] of pairs) {
        const w = base.byName.get(name);
        const nIn = Number(w.shape[0]), nOut = Number(w.shape[1]), r = Number(p.b.shape[0]);
        const scale = alpha ? alpha / r : 1;
        const W = values(base, w), A = values(ad, p.a), B = values(ad, p.b);
        for (let o = 0; o < nOut; o++)
            for (let i = 0; i < nIn; i++) {
                let s = 0;
                for (let k = 0; k < r; k++) s += B[o * r + k] * A[k * nIn + i];
                biggestDelta = Math.max(biggestDelta, Math.abs(scale * s));
                W[o * nIn + i] += scale * s;
            }
        expected.set(name, W);
    }

    for (const mf of mergedFiles) {
        const m = await open(mf);
        let worst = 0, same = 0;
        for (const w of base.tensors) {
            const t = m.byName.get(w.name);
            if (!t) fail(`${mf}: no ${w.name}`);
            if (t.shape.join() !== w.shape.join()) fail(`${mf}: ${w.name} ne [${t.shape}], base [${w.shape}]`);
            const got = values(m, t);
            const want = expected.get(w.name) || values(base, w);
            let d = 0;
            for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
            if (expected.has(w.name)) worst = Math.max(worst, d);
            else if (d !== 0) fail(`${mf}: ${w.name} has no LoRA but differs from the base by ${d}`);
            else same++;
        }
        console.log(`${path.basename(mf)}: ${pairs.size} merged weights vs W + scale B A from the ` +
            `adapter GGUF: max-abs ${worst.toExponential(3)} (largest |scale B A| ${biggestDelta.toExponential(3)}), ` +
            `${same} other tensors identical`);
        if (!(worst <= TOL)) fail(`${mf}: merged weights differ by ${worst} > ${TOL}`);
    }
    console.log(`adapter: ${pairs.size} pairs, alpha ${alpha}, alignment ${ad.align}: llama.cpp's rules hold`);
}

main().catch((e) => fail(e.stack || String(e)));
