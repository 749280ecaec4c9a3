"""``emobench list judges [--zoo Z]``: the panel a zoo provides, each judge with its card's key facts."""
from __future__ import annotations

from emobench.judges.registry import judge_plugins, load_panel


def _fmt(x) -> str:
    return f"{x:.3f}" if isinstance(x, (int, float)) else "not measured"


def print_judges(zoo_spec: str) -> int:
    from emobench.zoo.load import load_zoo

    zoo = load_zoo(zoo_spec, with_pipeline=False, with_dataset=False)
    panel = load_panel(zoo)
    plugins = judge_plugins()
    print(f"emotion judges of zoo {zoo.name!r} ({zoo.scale}): {len(panel.judges)} available")
    for j in panel.judges:
        c = j.card
        ceiling = f" (Bayes ceiling {c['bayes_ceiling']:.3f})" if isinstance(c.get("bayes_ceiling"), float) else ""
        print(f"{j.name:<16} {j.family:<20}{' [primary: Emo-A]' if j.primary else ''}")
        print(f"    held-out accuracy {_fmt(c.get('held_out_accuracy'))}{ceiling} on {c.get('validated_on') or '-'}")
        print(f"    trained on: {c.get('trained_on') or '-'}")
        if c.get("prompts"):
            print(f"    prompts: {' | '.join(c['prompts'])}")
        print(f"    labels: {','.join(j.labels)}   weights {j.weights_hash[:16]}   plugin {plugins[j.name].target}")
    for name, why in panel.unavailable.items():
        print(f"{name:<16} not in this zoo: {why}")
    return 0
