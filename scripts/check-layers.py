#!/usr/bin/env python3
"""Checks that no source includes a header of a layer above its own (../shared/DESIGN.md, Layers).

Every moesim folder is a layer or part of one; LAYERS lists, for each, the folders whose headers
it may include besides its own. A folder not listed (tests/, bench/) may include anything. Run as
a build step and as a test, so a wrong include fails the build:

    scripts/check-layers.py [ROOT]
"""
import pathlib
import re
import sys

BASE = {"sim/base"}
LAYERS = {
    # 1. base: vocabulary, the event engine, output files
    "sim/base": set(),
    "sim/engine": BASE,
    "sim/files": BASE,
    # 2. cost models
    "cuda": BASE,
    "hardware": BASE | {"sim/engine"},
    "sim/network": BASE | {"sim/engine", "hardware"},
    # 3. gating and policies
    "models": BASE | {"sim/engine", "sim/files", "cuda"},
    "policies": BASE | {"sim/engine"},
    # 4. the step model
    "sim/step": BASE | {"sim/engine", "sim/network", "hardware", "models", "policies"},
    # the scenario: what the loader assembles from the layers' configs
    "scenarios": BASE | {"hardware", "models", "policies", "sim/step"},
    # 5. orchestration
    "sim": BASE | {"sim/engine", "sim/files", "sim/network", "sim/step", "hardware", "models", "policies", "scenarios", "cuda"},
    # 6. edges
    "scenarios/loader": BASE | {"sim/engine", "hardware", "models", "policies", "sim/network", "sim/step", "scenarios", "cuda"},
    "results": BASE | {"sim/engine", "sim/files", "sim/network", "sim/step", "hardware", "models", "policies", "scenarios", "sim", "cuda"},
    "sim/cli": None,  # the top: anything
}
SOURCES = (".h", ".cc", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def layer_of(path: str):
    """The deepest listed folder that holds `path`."""
    best = None
    for folder in LAYERS:
        if (path.startswith(folder + "/")) and (best is None or len(folder) > len(best)):
            best = folder
    return best


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    problems = []
    for file in sorted(root.rglob("*")):
        rel = file.relative_to(root).as_posix()
        if file.suffix not in SOURCES or rel.startswith("build/"):
            continue
        layer = layer_of(rel)
        if layer is None or LAYERS[layer] is None:
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        for match in INCLUDE.finditer(text):
            header = match.group(1)
            if not (root / header).is_file():
                continue  # a header of the same folder included by its bare name, or a generated one
            target = layer_of(header)
            if target is None or target == layer or target in LAYERS[layer]:
                continue
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"{rel}:{line}: includes {header} ({target}), which layer {layer} may not use "
                            f"(it may use: {', '.join(sorted(LAYERS[layer])) or 'nothing'})")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} include(s) cross the layers (scripts/check-layers.py, ../shared/DESIGN.md)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
