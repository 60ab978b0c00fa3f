"""How often the doctor's first answer is right, and how often it is confidently wrong.

Runs diagnose() over the error corpus (tests/data/error_corpus.toml) and any other file of
the same shape given with --corpus PATH ([[case]] tables with rule, text, optional sqlstate
and confidence), and prints, per expected rule and in total:

- right: the first answer is the expected rule;
- confidently wrong: a high-confidence answer naming another rule (what issue #13 wants
  "almost never": a user follows a fix for the wrong problem);
- wrong but hedged: the first answer is another rule, but it says so (medium confidence)
  or lists the expected rule among its alternatives;
- unknown: no answer (the honest "the wizard does not recognize this").

A case whose rule is "unknown" is a message no rule explains: it is right when the doctor says
it does not recognize it, hedged when it offers a probable answer, confidently wrong when it
gives a high-confidence one.

Then the two targets: right >= 95%, confidently wrong <= 1%. It works with an engine that
gives no confidence (every recognized answer counts as high then).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wizard.core.doctor import diagnose  # noqa: E402

DEFAULT_CORPUS = ROOT / "tests" / "data" / "error_corpus.toml"
UNKNOWN = "unknown"  # the rule of a case that no rule should explain
KINDS = ("right", "confidently wrong", "wrong but hedged", "unknown")


def classify(case: dict[str, object]) -> str:
    sqlstate = case.get("sqlstate")
    found = diagnose(str(case["text"]), sqlstate=sqlstate if isinstance(sqlstate, str) else None)
    if found.id == case["rule"]:
        return "right"
    confidence = getattr(found, "confidence", "high" if found.matched else "low")
    if case["rule"] == UNKNOWN:
        unrecognized = found.id is None or confidence == "low"
        return "right" if unrecognized else "confidently wrong" if confidence == "high" else "wrong but hedged"
    if found.id is None or confidence == "low":
        return "unknown"
    alternatives = {getattr(alt, "id", None) for alt in getattr(found, "alternatives", ())}
    if confidence != "high" or case["rule"] in alternatives:
        return "wrong but hedged"
    return "confidently wrong"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append", help="another corpus file (repeatable)")
    parser.add_argument("--only", type=Path, help="measure this file alone, not the project's corpus")
    parser.add_argument("--wrong", action="store_true", help="list every case not answered right")
    args = parser.parse_args()
    files = [args.only] if args.only else [DEFAULT_CORPUS, *(args.corpus or [])]
    cases: list[dict[str, object]] = []
    for path in files:
        with path.open("rb") as handle:
            cases += tomllib.load(handle)["case"]
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    misses: list[tuple[str, dict[str, object]]] = []
    for case in cases:
        kind = classify(case)
        per_rule[str(case["rule"])][kind] += 1
        if kind != "right":
            misses.append((kind, case))
    total: Counter[str] = Counter()
    for counts in per_rule.values():
        total.update(counts)

    print(f"corpus: {', '.join(str(path) for path in files)}; {len(cases)} messages, {len(per_rule)} rules")
    width = max(len(rule) for rule in per_rule)
    print(f"{'rule':<{width}}  {'cases':>5}  " + "  ".join(f"{kind:>17}" for kind in KINDS))
    for rule in sorted(per_rule):
        counts = per_rule[rule]
        cells = "  ".join(f"{counts[kind]:>17}" for kind in KINDS)
        print(f"{rule:<{width}}  {sum(counts.values()):>5}  {cells}")
    n = len(cases) or 1
    print(f"{'total':<{width}}  {len(cases):>5}  " + "  ".join(f"{total[kind]:>17}" for kind in KINDS))
    right, wrong = total["right"] / n, total["confidently wrong"] / n
    print(f"right: {right:.1%} (target >= 95%: {'met' if right >= 0.95 else 'NOT met'})")
    print(f"confidently wrong: {wrong:.1%} (target <= 1%: {'met' if wrong <= 0.01 else 'NOT met'})")
    if args.wrong:
        for kind, case in misses:
            first = str(case["text"]).strip().splitlines()[0]
            print(f"  {kind}: expected {case['rule']}: {first[:120]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
