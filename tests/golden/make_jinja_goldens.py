#!/usr/bin/env python3
"""Writes tests/golden/jinja_renders.json: small templates that exercise the Jinja features chat
templates use, each rendered by Python's jinja2 with Hugging Face's apply_chat_template settings
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, tojson as json.dumps with
ensure_ascii=False, raise_exception). The reference for Ridgeline's interpreter
(engine/tokenizer/jinja.h) in tests/test_jinja.cpp; the real templates' renders are in
family_chat.json and chat_smollm2.json. A case whose render raises records "error" instead.

    python3 tests/golden/make_jinja_goldens.py      (needs jinja2: Debian's python3-jinja2)
"""
import json
import pathlib

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


CHAT = [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": "  Hi there  "},
        {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nHello!"},
        {"role": "user", "content": "What's 2+2? Use \"quotes\" and ünïcödé."}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather now",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]

LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
          "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
          "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")

CASES = [
    ("llama3", LLAMA3, {"messages": CHAT, "bos_token": "<|begin_of_text|>", "add_generation_prompt": True}),
    ("whitespace_blocks", "a\n  {% if true %}\n    b\n  {% endif %}\nc\n{# note #}\nd {%- if true %} e {% endif -%} f\n  {%+ if true %}g{% endif %}",
     {}),
    ("whitespace_output", "x\n  {{ 'y' }}  \n{{- ' z ' -}}\n w", {}),
    ("literals", "{{ 1 }} {{ 1.5 }} {{ -2 }} {{ 7 // 2 }} {{ 7 / 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 'a' ~ 1 ~ none }} "
                 "{{ none }} {{ true }} {{ [1, 'b', none] }} {{ {'k': 'v', 'n': 1} }} {{ 'it''s' }} {{ \"q\\\"x\" }}", {}),
    ("arithmetic_precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 10 - 4 - 3 }} {{ 2 * 3 ** 2 }} {{ 'ab' * 3 }} {{ [1] + [2, 3] }}", {}),
    ("comparisons", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'x' != 'y' }} {{ 'ell' in 'hello' }} "
                    "{{ 3 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ not 1 }} {{ not (1 and 0) or 5 }}", {}),
    ("conditional_expr", "{{ 'yes' if flag else 'no' }} {{ 'x' if not flag }}|{{ a or 'default' }}|{{ a and 'never' }}",
     {"flag": False, "a": ""}),
    ("subscripts_and_slices", "{{ m[0].role }} {{ m[-1]['content'] }} {{ m[1:] | length }} {{ m[::-1][0].role }} {{ 'hello'[1:3] }} "
                              "{{ 'hello'[::-1] }} {{ 'hello'[-3:] }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3][:-1] }} {{ 'abc'[5:] }}",
     {"m": CHAT}),
    ("string_methods", "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.strip(' H') }}|{{ s.upper() }}|{{ s.lower() }}|"
                       "{{ s.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a b c'.split(' ', 1) }}|{{ s.startswith('  H') }}|"
                       "{{ s.endswith('x') }}|{{ s.replace('i', '1') }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|"
                       "{{ s.find('i') }}|{{ 'banana'.count('an') }}|{{ 'x'.startswith(('a', 'x')) }}",
     {"s": "  Hi there  "}),
    ("think_split", "{% set c = m.content %}{{ c.split('</think>')[-1].lstrip('\\n') }}|"
                    "{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}",
     {"m": CHAT[2]}),
    ("filters", "{{ s | trim }}|{{ m | length }}|{{ s | upper }}|{{ [3, 1, 2] | first }}|{{ [3, 1, 2] | last }}|"
                "{{ [3, 1, 2] | sort }}|{{ [1, 2] | reverse | list }}|{{ ['a', 'b'] | join(', ') }}|{{ m | map(attribute='role') | join(' ') }}|"
                "{{ m | selectattr('role', 'equalto', 'user') | list | length }}|{{ m | rejectattr('role', 'equalto', 'user') | map(attribute='role') | list }}|"
                "{{ undefined_thing | default('dflt') }}|{{ '' | default('empty', true) }}|{{ '42' | int + 1 }}|{{ 3 | float }}|"
                "{{ 5 | string ~ '!' }}|{{ [1, 1, 2] | unique | list }}|{{ {'b': 1, 'a': 2} | items | list }}|{{ -3 | abs }}|"
                "{{ [1, 0, 2] | select | list }}|{{ 'ab' | replace('a', 'z') }}",
     {"s": "  Hi there  ", "m": CHAT}),
    ("tojson", "{{ tools | tojson }}\n{{ {'a': [1, 2.5, none, true], 'b': 'ü\"\\n'} | tojson }}\n{{ tools[0] | tojson(indent=2) }}\n{{ 'x' | tojson }}",
     {"tools": TOOLS}),
    ("tests", "{{ x is defined }} {{ y is defined }} {{ y is not defined }} {{ n is none }} {{ x is string }} {{ 3 is number }} "
              "{{ 3 is integer }} {{ 3.0 is float }} {{ false is false }} {{ true is true }} {{ 0 is false }} {{ {} is mapping }} "
              "{{ [] is iterable }} {{ 4 is divisibleby 2 }} {{ 3 is odd }} {{ 4 is even }} {{ x is equalto 'v' }} {{ 'A' is upper }}",
     {"x": "v", "n": None}),
    ("loops", "{% for m in msgs %}{{ loop.index }}/{{ loop.length }} {{ loop.index0 }} {{ loop.revindex }} {{ loop.first }} {{ loop.last }} "
              "{{ loop.previtem.role if loop.previtem is defined else '-' }} {{ m.role }}\n{% endfor %}"
              "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"
              "{% for m in msgs if m.role != 'system' %}[{{ loop.index }}:{{ m.role }}]{% endfor %}"
              "{% for x in [] %}never{% else %}empty{% endfor %}"
              "{% for c in 'ab' %}{{ c }}{% endfor %}{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}",
     {"msgs": CHAT}),
    ("scoping_and_namespace", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %} after {{ x }}|"
                              "{% set ns = namespace(total=0, found=false) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}"
                              "{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.total }} {{ ns.found }}|"
                              "{% if true %}{% set y = 'set in if' %}{% endif %}{{ y }}|{% set block %}a{{ 1 + 1 }}b{% endset %}{{ block }}",
     {}),
    ("macros", "{% macro tag(name, value='none') %}<{{ name }}>{{ value }}</{{ name }}>{% endmacro %}"
               "{{ tag('a') }}{{ tag('b', 2) }}{{ tag('c', value='v') }}", {}),
    ("dict_access", "{{ d.a }} {{ d['b'] }} {{ d.get('a') }} {{ d.get('zz', 'fallback') }} {{ d.get('zz') }} {{ d.keys() | list }} "
                    "{{ d.values() | list }} {{ d.missing is defined }} {{ d | length }} {{ d == {'a': 1, 'b': [2]} }}",
     {"d": {"a": 1, "b": [2]}}),
    ("raise_exception", "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok",
     {"messages": CHAT}),
    ("tools_chatml", "{%- if tools %}\n    {{- '<|im_start|>system\\n# Tools\\n<tools>' }}\n    {%- for tool in tools %}\n"
                     "        {{- '\\n' }}\n        {{- tool | tojson }}\n    {%- endfor %}\n    {{- '\\n</tools><|im_end|>\\n' }}\n"
                     "{%- endif %}\n{%- for message in messages %}\n    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}\n"
                     "{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n",
     {"messages": CHAT, "tools": TOOLS, "add_generation_prompt": True}),
    ("undefined_prints_empty", "[{{ nothing }}][{{ d.nothing }}][{% if nothing %}x{% endif %}]", {"d": {}}),
    ("floats", "{{ 100.0 }}|{{ [250.0, 0.1, 1e16, 1.5e-5, 123456789012345.6, 2.5e-4, 1e-4, 1e-5] }}|{{ 20 / 2 }}|"
               "{{ {'t': 10.0, 'u': 1e100, 'v': 3.14159} | tojson }}|{{ 1.5e3 }}|{{ -0.0 }}|{{ t }}", {"t": {"maximum": 10.0}}),
    ("trailing_newline", "a{{ 1 }}\n", {}),
    ("crlf_newlines", "x\r\ny\r\n{% if true %}\r\n{{ 2 }}\r\n{% endif %}\r\nz\r\n", {}),
    ("loop_controls", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}"
                      "{{ i }}{% endfor %}|{% for i in [1, 2] %}{% for j in [1, 2, 3] %}{% if j == 2 %}{% break %}{% endif %}"
                      "{{ i }}{{ j }} {% endfor %}{% endfor %}", {}),
    ("nested_dict_output", "{{ {'a': {'b': 1}}|tojson }}|{{ {'a': {'b': {'c': [1, {'d': 2}]}}} }}", {}),
    ("unicode_strings", "{{ s|length }}|{{ s[:2] }}|{{ s[-1] }}|{{ s|reverse }}|{% for c in s[:4] %}[{{ c }}]{% endfor %}|"
                        "{{ s[::-1] }}|{{ s|list|length }}", {"s": "héllo wörld ✓"}),
    ("escapes", "{{ '\\x41\\u00e9\\U0001F600' }}|{{ \"tab\\there\" }}", {}),
    ("chained_compare", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1 != 2 }} {{ 0 < x <= 5 }}", {"x": 5}),
    ("title_filter", "{{ \"they're here - (really) [ok] {x} <y> hello-world\" | title }}", {}),
    ("more_filters", "{{ [3, 1, 2]|sum }} {{ [3, 1, 2]|max }} {{ [3, 1, 2]|min }} {{ m|sum(attribute='n') }} "
                     "{{ ['b', 'A', 'c']|sort }} {{ [1, 3, 2]|sort(reverse=true) }} {{ m|sort(attribute='n')|map(attribute='n')|list }} "
                     "{{ {'b': 1, 'a': 2}|dictsort }} [{{ 'x\\ny\\n\\nz'|indent(2) }}] [{{ 'x\\ny'|indent(2, true) }}] "
                     "{{ '<a href=\"x\">&\\'</a>'|e }}", {"m": [{"n": 3}, {"n": 1}]}),
    ("integers", "{{ 7 // -2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 2 ** 62 }} {{ (-2) ** 3 }} {{ 2 ** -1 }} {{ 7 / 2 }}", {}),
]


def main():
    env = environment()
    out = {"reference": "jinja2 %s (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks; HF's tojson)" % jinja2.__version__,
           "cases": []}
    for name, source, variables in CASES:
        case = {"name": name, "template": source, "variables": variables}
        try:
            case["text"] = env.from_string(source).render(**variables)
        except Exception as e:  # the interpreter must refuse these too
            case["error"] = "%s: %s" % (type(e).__name__, e)
        out["cases"].append(case)
    path = pathlib.Path(__file__).with_name("jinja_renders.json")
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("wrote %s: %d cases" % (path, len(CASES)))


if __name__ == "__main__":
    main()
