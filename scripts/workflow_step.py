#!/usr/bin/env python3
"""The INPUT_* environment GitHub gives a step of an example workflow, for scripts/demo.sh.

    workflow_step.py WORKFLOW STEP_ID [EXPRESSION=VALUE ...]

Finds the step whose `id` is STEP_ID, checks that it runs gitops-promote, and prints one `INPUT_<NAME>=value`
line per entry of its `with:` block, named as the runner names them (upper case, hyphens kept). Each
`${{ expression }}` in a value is replaced by the VALUE given for it; an expression the caller did not give is an
error, so a change to the examples that the demo does not follow fails the demo instead of drifting from it.
"""
import re
import sys

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def fail(message):
    print(f"workflow_step.py: {message}", file=sys.stderr)
    sys.exit(2)


def scalar(value):
    # YAML reads `true` and `3` as a bool and an int; the runner passes every input as the text written.
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def main(argv):
    if len(argv) < 2:
        fail(__doc__.strip().splitlines()[2].strip())
    workflow, step_id, *pairs = argv
    context = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            fail(f"`{pair}` is not EXPRESSION=VALUE")
        context[name] = value
    with open(workflow, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    steps = [
        step
        for job in (document.get("jobs") or {}).values()
        for step in job.get("steps") or []
        if step.get("id") == step_id
    ]
    if len(steps) != 1:
        fail(f"{workflow}: {len(steps)} steps have `id: {step_id}`, expected one")
    step = steps[0]
    if "gitops-promote" not in str(step.get("uses", "")):
        fail(f"{workflow}: step `{step_id}` uses `{step.get('uses')}`, not gitops-promote")

    def substitute(match):
        expression = match.group(1)
        if expression not in context:
            fail(f"{workflow}: step `{step_id}` reads `${{{{ {expression} }}}}`; the demo gives no value for it")
        return context[expression]

    for name, value in (step.get("with") or {}).items():
        text = EXPRESSION.sub(substitute, scalar(value))
        if "\n" in text:
            fail(f"{workflow}: step `{step_id}`: input `{name}` spans lines")
        print(f"INPUT_{name.upper().replace(' ', '_')}={text}")


if __name__ == "__main__":
    main(sys.argv[1:])
