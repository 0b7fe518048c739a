#!/usr/bin/env python3
"""test_openai_client: ridgeline-serve driven by the official `openai` Python package (pinned in
tests/openai/requirements.txt, installed into tests/openai/.venv by scripts/setup.sh).

Starts ridgeline-serve on a free loopback port with the default model and covers, streaming and
not: chat and completions, n, logprobs (chat's content[] and the legacy shape), presence and
frequency penalties, logit_bias, seeds (unseeded calls differ, the same seed repeats), echo, prompt
batches, stream_options.include_usage, response_format json_object and json_schema (parsed with
json.loads, the schema's shape checked), and the 400s for unsupported schema keywords and tools.

  tests/openai/test_openai_client.py --serve build/app/ridgeline-serve --model models/X.gguf

Registered with CTest as test_openai_client (label model). Exit 77 (CTest's skip) only when the
package cannot be imported outside CI, saying so; on CI (CI=true) that is a failure.
"""
import argparse
import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PYTHON = os.path.join(HERE, ".venv", "bin", "python")

ARGS = None
SERVER = None
SERVER_LOG = tempfile.TemporaryFile()
BASE = None
MODEL = None


def import_openai():
    """Imports openai, re-running this script under tests/openai/.venv when that has it."""
    try:
        import openai  # noqa: F401
        return openai
    except ImportError as e:
        why = str(e)
    if os.path.exists(VENV_PYTHON) and os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(HERE, ".venv")):
        os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    msg = (f"the openai package cannot be imported ({why}); scripts/setup.sh installs it into "
           f"{os.path.join(HERE, '.venv')} (rl_ensure_openai_venv)")
    if os.environ.get("CI") == "true":
        print(f"FAIL: {msg}", flush=True)
        sys.exit(1)
    print(f"SKIP: {msg}", flush=True)
    sys.exit(SKIP)


openai = import_openai()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setUpModule():
    global SERVER, BASE, MODEL
    port = free_port()
    # The server's output goes to a file, never a pipe nobody reads (a full pipe would block it).
    SERVER_LOG.seek(0)
    SERVER = subprocess.Popen([ARGS.serve, "--model", ARGS.model, "--port", str(port), "--max-context", "1024",
                               "--threads", "2", "--quiet"], stdout=SERVER_LOG, stderr=subprocess.STDOUT)
    BASE = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    while time.time() < deadline:
        if SERVER.poll() is not None:
            SERVER_LOG.seek(0)
            raise RuntimeError("ridgeline-serve exited: " + SERVER_LOG.read().decode(errors="replace"))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        raise RuntimeError("ridgeline-serve did not answer /health within 180 s")
    MODEL = os.path.basename(ARGS.model)[: -len(".gguf")]


def tearDownModule():
    if SERVER:
        SERVER.terminate()
        try:
            SERVER.wait(timeout=30)
        except subprocess.TimeoutExpired:
            SERVER.kill()
            SERVER.wait()


def client():
    return openai.OpenAI(base_url=BASE, api_key="unused", max_retries=0, timeout=300)


def metric(name):
    """The value of one series on /metrics (summed over labels)."""
    with urllib.request.urlopen(BASE[: -len("/v1")] + "/metrics", timeout=30) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


def chat(messages="Name three colours.", **kw):
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return client().chat.completions.create(model=MODEL, messages=messages, **kw)


def complete(prompt="The sky is", **kw):
    return client().completions.create(model=MODEL, prompt=prompt, **kw)


def warm(messages):
    """Puts a chat prompt's full KV blocks in the prefix cache. The CPU backend's products take
    other kernels for few rows than for many, so a prompt's logits differ slightly between a full
    prefill and one that reuses cached blocks: comparisons of sampled answers warm up first."""
    chat(messages, max_tokens=1, temperature=0)


def stream_chat(**kw):
    """Streams a chat completion; returns ({index: text}, {index: finish}, {index: [logprob entries]}, usage)."""
    text, finish, lps, usage = collections.defaultdict(str), {}, collections.defaultdict(list), None
    for chunk in chat(stream=True, **kw):
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            text[c.index] += c.delta.content or ""
            if c.finish_reason:
                finish[c.index] = c.finish_reason
            if c.logprobs and c.logprobs.content:
                lps[c.index].extend(c.logprobs.content)
    return dict(text), finish, dict(lps), usage


class Basics(unittest.TestCase):
    def test_models(self):
        ids = [m.id for m in client().models.list().data]
        self.assertEqual(ids, [MODEL])
        self.assertEqual(client().models.retrieve(MODEL).id, MODEL)
        with self.assertRaises(openai.NotFoundError):
            client().models.retrieve("gpt-4o")

    def test_stream_matches_plain_with_usage(self):
        r = chat(max_tokens=12, temperature=0)
        self.assertEqual(r.choices[0].message.role, "assistant")
        self.assertGreater(len(r.choices[0].message.content), 0)
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens)
        text, finish, _, usage = stream_chat(max_tokens=12, temperature=0, stream_options={"include_usage": True})
        self.assertEqual(text[0], r.choices[0].message.content)
        self.assertEqual(finish[0], r.choices[0].finish_reason)
        self.assertIsNotNone(usage)
        self.assertEqual(usage.completion_tokens, r.usage.completion_tokens)


class Seeds(unittest.TestCase):
    PROMPT = "Write a list of ten random words."

    def test_unseeded_calls_differ(self):
        answers = {chat(self.PROMPT, max_tokens=24, temperature=1).choices[0].message.content for _ in range(3)}
        self.assertGreater(len(answers), 1, answers)

    def test_same_seed_same_answer(self):
        warm(self.PROMPT)
        a = chat(self.PROMPT, max_tokens=24, temperature=1, seed=1234).choices[0].message.content
        b = chat(self.PROMPT, max_tokens=24, temperature=1, seed=1234).choices[0].message.content
        c = chat(self.PROMPT, max_tokens=24, temperature=1, seed=4321).choices[0].message.content
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)


class N(unittest.TestCase):
    def test_n_choices_with_usage(self):
        warm(Seeds.PROMPT)
        r = chat(Seeds.PROMPT, n=3, max_tokens=10, temperature=1, seed=7, logprobs=True)
        self.assertEqual([c.index for c in r.choices], [0, 1, 2])
        self.assertGreater(len({c.message.content for c in r.choices}), 1)
        # Every generated token is counted: those reported, plus the end-of-generation token of
        # each choice that stopped on one (it has no text, so no log-probability entry).
        reported = sum(len(c.logprobs.content) for c in r.choices)
        eos = sum(1 for c in r.choices if c.finish_reason == "stop")
        self.assertEqual(r.usage.completion_tokens, reported + eos)
        single = chat(Seeds.PROMPT, max_tokens=10, temperature=1, seed=7)
        self.assertEqual(r.usage.prompt_tokens, single.usage.prompt_tokens)  # the prompt counts once
        # The same seed repeats choice by choice (not the n = 1 answer: choice 0 decodes batched
        # with the others, and the CPU products round differently for other row counts).
        again = chat(Seeds.PROMPT, n=3, max_tokens=10, temperature=1, seed=7, logprobs=True)
        self.assertEqual([c.message.content for c in again.choices], [c.message.content for c in r.choices])

    def test_n_choices_share_the_prompt_blocks(self):
        # A fresh prompt of a few KV blocks: each of the n choices finds its full blocks in the prefix cache.
        prompt = f"Request {time.time_ns()}: " + "tell me about lighthouses and the sea, " * 8
        before = metric("vllm:prefix_cache_hits_total")
        r = chat(prompt, n=4, max_tokens=2, temperature=1)
        self.assertEqual(len(r.choices), 4)
        hits = metric("vllm:prefix_cache_hits_total") - before
        self.assertGreaterEqual(hits, 4 * 16 * (r.usage.prompt_tokens // 16 - 1), hits)
        self.assertGreater(hits, 0)

    def test_n_streaming(self):
        warm(Seeds.PROMPT)
        plain = chat(Seeds.PROMPT, n=2, max_tokens=8, temperature=1, seed=99)
        text, finish, _, _ = stream_chat(messages=Seeds.PROMPT, n=2, max_tokens=8, temperature=1, seed=99)
        self.assertEqual(sorted(text), [0, 1])
        self.assertEqual(sorted(finish), [0, 1])
        self.assertEqual([text[0], text[1]], [c.message.content for c in plain.choices])


class Logprobs(unittest.TestCase):
    def check_entries(self, entries, k):
        for e in entries:
            self.assertLessEqual(e.logprob, 0.0)
            self.assertEqual(len(e.top_logprobs), k)
            tops = [t.logprob for t in e.top_logprobs]
            self.assertEqual(tops, sorted(tops, reverse=True))
            self.assertLessEqual(sum(2.718281828459045 ** t for t in tops), 1.0 + 1e-4)
            self.assertEqual(bytes(e.bytes).decode("utf-8", "replace"), e.token)

    def test_chat_logprobs(self):
        warm("Name three colours.")
        r = chat(max_tokens=10, temperature=0, logprobs=True, top_logprobs=3)
        c = r.choices[0]
        entries = c.logprobs.content
        self.assertGreater(len(entries), 0)
        self.check_entries(entries, 3)
        self.assertEqual("".join(e.token for e in entries), c.message.content)
        for e in entries:  # greedy: the chosen token is the most likely one
            self.assertEqual(e.token, e.top_logprobs[0].token)
            self.assertAlmostEqual(e.logprob, e.top_logprobs[0].logprob, places=5)
        text, _, lps, _ = stream_chat(max_tokens=10, temperature=0, logprobs=True, top_logprobs=3)
        self.assertEqual(text[0], c.message.content)
        self.assertEqual([e.token for e in lps[0]], [e.token for e in entries])
        for a, b in zip(lps[0], entries):
            self.assertAlmostEqual(a.logprob, b.logprob, places=4)
        self.assertIsNone(chat(max_tokens=3, temperature=0).choices[0].logprobs)

    def test_sampled_logprobs_follow_temperature(self):
        # At temperature T the reported distribution is softmax(logits / T): the same top token's
        # log-probability is sharper at T = 0.5 than at T = 1.
        warm("Name three colours.")
        one = chat(max_tokens=1, temperature=1.0, seed=1, logprobs=True, top_logprobs=2).choices[0].logprobs.content[0]
        half = chat(max_tokens=1, temperature=0.5, seed=1, logprobs=True, top_logprobs=2).choices[0].logprobs.content[0]
        self.assertEqual(one.top_logprobs[0].token, half.top_logprobs[0].token)
        gap1 = one.top_logprobs[0].logprob - one.top_logprobs[1].logprob
        gap_half = half.top_logprobs[0].logprob - half.top_logprobs[1].logprob
        self.assertAlmostEqual(gap_half, 2 * gap1, places=3)

    def test_completion_logprobs(self):
        r = complete(max_tokens=8, temperature=0, logprobs=2)
        c = r.choices[0]
        lp = c.logprobs
        self.assertEqual("".join(lp.tokens), c.text)
        self.assertEqual(len(lp.token_logprobs), len(lp.tokens))
        self.assertEqual(lp.text_offset, [len("".join(lp.tokens[:i])) for i in range(len(lp.tokens))])
        for tok, val, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
            self.assertIn(tok, top)
            self.assertAlmostEqual(top[tok], val, places=5)
            self.assertLessEqual(len(top), 3)
        chunks = list(complete(max_tokens=8, temperature=0, logprobs=2, stream=True))
        streamed = [t for ch in chunks for c in ch.choices if c.logprobs for t in c.logprobs.tokens]
        self.assertEqual(streamed, lp.tokens)


class Penalties(unittest.TestCase):
    PROMPT = "1 1 1 1 1 1 1 1"   # greedy, the model goes on repeating " 1"

    def max_repeats(self, **kw):
        r = complete(self.PROMPT, max_tokens=20, temperature=0, logprobs=0, **kw)
        toks = r.choices[0].logprobs.tokens
        return max(collections.Counter(toks).values()), r.choices[0].text

    def test_frequency_penalty_reduces_repeats(self):
        base, text = self.max_repeats()
        pen, ptext = self.max_repeats(frequency_penalty=2.0)
        self.assertGreaterEqual(base, 5, text)  # the prompt does make the model repeat itself
        self.assertLess(pen, base, ptext)

    def test_presence_penalty_changes_output(self):
        base, text = self.max_repeats()
        pen, ptext = self.max_repeats(presence_penalty=2.0)
        self.assertNotEqual(text, ptext)
        self.assertLess(pen, base, ptext)

    def test_logit_bias(self):
        forced = complete(max_tokens=4, temperature=0, logprobs=1, logit_bias={"253": 100})
        toks = forced.choices[0].logprobs.tokens
        self.assertEqual(len(set(toks)), 1, toks)  # one token, over and over
        for v in forced.choices[0].logprobs.token_logprobs:
            self.assertGreater(v, -0.01)
        banned = complete(max_tokens=4, temperature=0, logprobs=1, logit_bias={"253": -100})
        self.assertNotIn(toks[0], banned.choices[0].logprobs.tokens)
        with self.assertRaises(openai.BadRequestError):
            complete(max_tokens=1, logit_bias={"99999999": 1})


class Completions(unittest.TestCase):
    def test_echo(self):
        r = complete("Once upon a time", max_tokens=5, temperature=0, echo=True)
        plain = complete("Once upon a time", max_tokens=5, temperature=0)
        self.assertEqual(r.choices[0].text, "Once upon a time" + plain.choices[0].text)
        streamed = "".join(c.text for ch in complete("Once upon a time", max_tokens=5, temperature=0, echo=True,
                                                     stream=True) for c in ch.choices)
        self.assertEqual(streamed, r.choices[0].text)
        with self.assertRaises(openai.BadRequestError) as e:
            complete(max_tokens=1, echo=True, logprobs=1)
        self.assertIn("echo", str(e.exception))

    def test_batch_is_prompt_major(self):
        r = complete(["Alpha beta", "Gamma delta"], n=2, max_tokens=3, temperature=0, echo=True)
        self.assertEqual([c.index for c in r.choices], [0, 1, 2, 3])
        self.assertTrue(r.choices[0].text.startswith("Alpha beta") and r.choices[1].text.startswith("Alpha beta"))
        self.assertTrue(r.choices[2].text.startswith("Gamma delta") and r.choices[3].text.startswith("Gamma delta"))
        one = complete("Gamma delta", max_tokens=3, temperature=0)
        self.assertEqual(r.choices[2].text, "Gamma delta" + one.choices[0].text)


class Formats(unittest.TestCase):
    PROMPT = 'Return a JSON object with the key "color" and a color as its value.'

    def test_json_object(self):
        r = chat(self.PROMPT, max_tokens=60, temperature=0, response_format={"type": "json_object"})
        content = r.choices[0].message.content
        self.assertEqual(r.choices[0].finish_reason, "stop", content)
        self.assertIsInstance(json.loads(content), dict)
        text, _, _, _ = stream_chat(messages=self.PROMPT, max_tokens=60, temperature=0,
                                    response_format={"type": "json_object"})
        self.assertEqual(text[0], content)
        free = chat(self.PROMPT, max_tokens=60, temperature=0).choices[0].message.content
        # Without the constraint the same request answers differently (prose around the JSON, or other JSON).
        self.assertNotEqual(free, content)

    SCHEMA = {"type": "object", "additionalProperties": False, "required": ["name", "age", "likes_red"],
              "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "likes_red": {"type": "boolean"}}}

    def test_json_schema(self):
        fmt = {"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": self.SCHEMA}}
        prompt = "Describe a person called Ann, 31, who likes red, as JSON."
        r = chat(prompt, max_tokens=60, temperature=0, response_format=fmt)
        content = r.choices[0].message.content
        self.assertEqual(r.choices[0].finish_reason, "stop", content)
        doc = json.loads(content)
        self.assertEqual(sorted(doc), ["age", "likes_red", "name"])
        self.assertIsInstance(doc["name"], str)
        self.assertIs(type(doc["age"]), int)
        self.assertIs(type(doc["likes_red"]), bool)
        # Sampled, the answers vary but every finished one has the schema's shape.
        for c in chat(prompt, n=3, max_tokens=60, temperature=1, seed=5, response_format=fmt).choices:
            if c.finish_reason == "stop":
                d = json.loads(c.message.content)
                self.assertEqual(sorted(d), ["age", "likes_red", "name"], c.message.content)
                self.assertIs(type(d["age"]), int, c.message.content)

    def test_refused(self):
        with self.assertRaises(openai.BadRequestError) as e:
            chat(max_tokens=1, response_format={"type": "json_schema", "json_schema": {
                "name": "x", "schema": {"type": "string", "pattern": "^a+$"}}})
        self.assertIn("'pattern' is not supported", str(e.exception))
        with self.assertRaises(openai.BadRequestError) as e:
            chat(max_tokens=1, tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
        self.assertIn("tool calling is not supported", str(e.exception))


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--serve", required=True, help="the ridgeline-serve executable")
    p.add_argument("--model", required=True, help="the .gguf to serve")
    ARGS, rest = p.parse_known_args()
    print(f"openai {openai.__version__} against {ARGS.serve}", flush=True)
    unittest.main(argv=[sys.argv[0], "-v"] + rest)


if __name__ == "__main__":
    main()
