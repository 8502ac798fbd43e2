#!/usr/bin/env python3
"""Checks that scenarios/whatif/README.md's reading of the what-if answers still holds.

The answers (step time of each question's two points) are README.md's what-if figure, which
scripts/readme-figures.sh makes and the readme_figures test keeps current. The what-if README
reads them in prose; each sentence that states a direction or a size is listed here with the
condition on the figure that makes it true. The check fails when a figure no longer bears its
sentence out (rewrite the sentence and its condition here) or when a listed sentence is no longer
in the prose (update the list).

    scripts/whatif_prose.py check
"""
import pathlib
import re
import sys

import readme_figures  # scripts/: the README's figure blocks

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PROSE = ROOT / "scenarios" / "whatif" / "README.md"

# (sentence as the prose has it, what-if file, condition on the variant's relative step-time
# change, what the condition says)
CLAIMS = [
    ("doubling the NIC bandwidth cuts a good part of the step", "nic_400g_vs_800g", lambda r: r <= -0.10, "at least 10 % shorter"),
    ("halving the spine capacity lengthens it", "oversubscription_1_vs_2", lambda r: r >= 0.10, "at least 10 % longer"),
    ("the H200's faster HBM shortens it by about a twentieth", "h100_vs_h200", lambda r: -0.10 < r < 0, "shorter, by less than a tenth"),
    ("16 nodes are far from twice as fast as 8", "nodes_8_vs_16", lambda r: -0.25 < r < 0, "shorter, by less than a quarter"),
    ("Four times the experts means four times the expert parameters to all-reduce and update", "experts_64_vs_256",
     lambda r: r >= 0.5, "at least 50 % longer"),
    ("here the two come out even", "ep_packed_vs_spread", lambda r: abs(r) < 0.03, "within 3 %"),
]

ROW = re.compile(r"\| `(\w+)\.yaml` \| [\d.]+ → [\d.]+ ms \(([+-]?[\d.]+) %")


def step_changes(readme):
    figure = readme_figures.blocks(readme).get("whatif")
    if figure is None:
        raise SystemExit(f"{README.relative_to(ROOT)}: no what-if figure (<!-- figure whatif --> ... <!-- end figure whatif -->)")
    return {m.group(1): float(m.group(2)) / 100 for m in ROW.finditer(figure)}


def check():
    changes = step_changes(README.read_text())
    prose = " ".join(PROSE.read_text().split())
    failures = []
    for sentence, name, holds, condition in CLAIMS:
        if sentence not in prose:
            failures.append(f"{PROSE.relative_to(ROOT)} no longer says \"{sentence}\": update CLAIMS in {pathlib.Path(__file__).name}")
            continue
        if name not in changes:
            failures.append(f"README.md's what-if figure has no row for {name}.yaml, which \"{sentence}\" reads")
            continue
        if not holds(changes[name]):
            failures.append(f"{PROSE.relative_to(ROOT)} says \"{sentence}\", which needs {name}.yaml's step time {condition}; "
                            f"README.md's what-if figure has {100 * changes[name]:+.1f} %: rewrite the sentence")
    for f in failures:
        print(f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1:] != ["check"]:
        raise SystemExit(__doc__)
    sys.exit(check())
