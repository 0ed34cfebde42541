#!/usr/bin/env python3
"""fake_openai.py — a small OpenAI-compatible HTTP server for the remote-session tests.

It listens on 127.0.0.1 (an ephemeral port unless --port), prints the port on the first line
of stdout, and answers POST /v1/chat/completions, /v1/completions and /v1/embeddings. What it
does depends on the "model" field of the request, so one server covers every case:

    sse          streams "You said: <last message or prompt>. The answer is 42. END tail"
                 in small chunks, then finish_reason "stop", a usage chunk (cut over two
                 writes) and [DONE]; lines end in \n for chat, \r\n for completions
    json         the same text as one JSON body (no event stream)
    flakyN-tag   429 (Retry-After: 0) for the first N requests of this model name, then sse
    down         503 always
    slow         sleeps 5 s before answering
    stall        sends one chunk, then sleeps 5 s
    badjson      200 with a body that is not JSON
    badsse       an event whose data is not JSON
    truncated    chunks without finish_reason or [DONE], then the connection closes
    big          about 1 MB of text
    auth         401 unless "Authorization: Bearer sekrit"
    emb          (embeddings) 8-dim vectors derived from each text, with "index"
    emb-bad      (embeddings) vectors of varying length
    script       streams, like sse, the reply of the first rule of --script FILE (a JSON list
                 of [regex, reply] pairs) whose regex matches (re.search, DOTALL) the last
                 message or prompt, with \1.. replaced by its groups; "" when none matches

Every request is appended to --log (one JSON object per line: path, model, body, auth) when
given. The server exits by itself after --lifetime seconds (default 300), so a test that dies
never leaves it behind.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = {}
LOCK = threading.Lock()
ARGS = None


def reply_text(body):
    if "messages" in body:
        said = body["messages"][-1]["content"] if body["messages"] else ""
    else:
        said = body.get("prompt", "")
        if isinstance(said, list):
            said = ",".join(str(x) for x in said)
    return "You said: %s. The answer is 42. END tail" % said


def scripted(body):
    said = reply_text(body)[len("You said: "):-len(". The answer is 42. END tail")]
    for pattern, reply in ARGS.rules:
        m = re.search(pattern, said, re.DOTALL)
        if m:
            return m.expand(reply)
    return ""


def chunks(text, n=7):
    return [text[i:i + n] for i in range(0, len(text), n)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

    def event(self, obj, split=False):
        data = obj if isinstance(obj, str) else json.dumps(obj)
        nl = getattr(self, "nl", "\n")
        raw = ("data: %s%s%s" % (data, nl, nl)).encode()
        if split:  # one event over two writes, the line cut in the middle
            self.wfile.write(raw[:len(raw) // 2])
            self.wfile.flush()
            time.sleep(0.05)
            raw = raw[len(raw) // 2:]
        self.wfile.write(raw)
        self.wfile.flush()

    def chunk(self, chat, text, finish=None):
        if chat:
            choice = {"index": 0, "delta": {"content": text} if text is not None else {},
                      "finish_reason": finish}
        else:
            choice = {"index": 0, "text": text or "", "finish_reason": finish}
        return {"id": "x", "object": "chat.completion.chunk", "choices": [choice]}

    def do_POST(self):
        try:
            self.post()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout, a stop string or a callback)

    def post(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        model = body.get("model", "")
        auth = self.headers.get("Authorization", "")
        if ARGS.log:
            with LOCK, open(ARGS.log, "a") as f:
                f.write(json.dumps({"path": self.path, "model": model, "body": body,
                                    "auth": auth}) + "\n")
        if self.path == "/v1/embeddings":
            return self.embeddings(body, model)
        if self.path not in ("/v1/chat/completions", "/v1/completions"):
            self.send_json(404, {"error": {"message": "no route " + self.path}})
            return
        chat = self.path == "/v1/chat/completions"
        self.nl = "\n" if chat else "\r\n"  # both line ends are legal in an event stream
        with LOCK:
            COUNTS[model] = COUNTS.get(model, 0) + 1
            count = COUNTS[model]
        m = re.match(r"flaky(\d+)", model)
        if m and count <= int(m.group(1)):
            self.send_json(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
            return
        if model == "down":
            self.send_json(503, {"error": {"message": "overloaded"}})
            return
        if model == "auth" and auth != "Bearer sekrit":
            self.send_json(401, {"error": {"message": "Incorrect API key provided"}})
            return
        if model == "slow":
            time.sleep(5)
        if model == "badjson":
            data = b"{not json"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        text = scripted(body) if model == "script" else reply_text(body)
        if model == "json":
            msg = {"role": "assistant", "content": text}
            choice = {"index": 0, "finish_reason": "stop"}
            choice.update({"message": msg} if chat else {"text": text})
            self.send_json(200, {"choices": [choice],
                                 "usage": {"prompt_tokens": 11, "completion_tokens": 9}})
            return
        self.start_sse()
        if model == "badsse":
            self.event(self.chunk(chat, "ok"))
            self.event("{bad")
            return
        if model == "big":
            piece = "x" * 1000
            for _ in range(1100):
                self.event(self.chunk(chat, piece))
            self.event(self.chunk(chat, None, "length"))
            self.event("[DONE]")
            return
        parts = chunks(text) or [""]
        if model == "stall":
            self.event(self.chunk(chat, parts[0]))
            time.sleep(5)
            return
        if chat:  # the role comes first, as OpenAI sends it
            self.event({"choices": [{"index": 0, "delta": {"role": "assistant"},
                                     "finish_reason": None}]})
        for p in parts:
            self.event(self.chunk(chat, p))
        if model == "truncated":
            return
        self.wfile.write(b": keep-alive comment\n\n")
        self.event(self.chunk(chat, None, "stop"))
        self.event({"choices": [], "usage": {"prompt_tokens": 17,
                                             "completion_tokens": len(parts),
                                             "prompt_tokens_details": {"cached_tokens": 5}}},
                   split=True)
        self.event("[DONE]")

    def embeddings(self, body, model):
        inputs = body.get("input", [])
        if isinstance(inputs, str):
            inputs = [inputs]
        data = []
        for i, text in enumerate(inputs):
            h = hashlib.sha256(text.encode()).digest()
            dim = 8 if model != "emb-bad" else 8 + i
            vec = [(h[j] - 128) / 64.0 for j in range(dim)]
            data.append({"object": "embedding", "index": i, "embedding": vec})
        data.reverse()  # "index" says where each belongs
        self.send_json(200, {"object": "list", "data": data, "model": model})


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("--script", help="JSON list of [regex, reply] rules for model 'script'")
    ARGS = ap.parse_args()
    ARGS.rules = json.load(open(ARGS.script)) if ARGS.script else []
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Timer(ARGS.lifetime, lambda: os._exit(0)).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
