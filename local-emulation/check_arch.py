"""Check that every shared object in the built layers and functions is for the template's architecture.

A layer built from wheels of the wrong architecture deploys fine and fails at the first import ("invalid ELF
header"), so `make build` and CI run this on what `sam build` produced:

    python local-emulation/check_arch.py --arch arm64 .aws-sam/build-arm64

Every ELF file counts (extension modules, and the libraries auditwheel vendored under *.libs/), whatever its name.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

# e_machine values of the ELF header (the 2 bytes at offset 18)
MACHINES = {62: "x86_64", 183: "arm64"}
ELF_MAGIC = b"\x7fELF"


def elf_machine(path: Path) -> str | None:
    """The architecture of an ELF file, or None if the file is not ELF."""
    with path.open("rb") as file:
        header = file.read(20)
    if len(header) < 20 or header[:4] != ELF_MAGIC:
        return None
    machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return MACHINES.get(machine, f"e_machine {machine}")


def check(build_dir: Path, arch: str) -> tuple[dict[str, Counter[str]], list[str]]:
    """Per built resource, how many ELF files of each architecture; and the paths that do not match ``arch``."""
    found: dict[str, Counter[str]] = {}
    wrong = []
    for resource in sorted(p for p in build_dir.iterdir() if p.is_dir()):
        counts: Counter[str] = Counter()
        for path in sorted(resource.rglob("*")):
            if path.is_file() and not path.is_symlink() and (machine := elf_machine(path)):
                counts[machine] += 1
                if machine != arch:
                    wrong.append(f"{path.relative_to(build_dir)}: {machine}")
        found[resource.name] = counts
    return found, wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(MACHINES.values()), required=True)
    parser.add_argument("build_dir", type=Path, help="sam build's output, e.g. .aws-sam/build")
    args = parser.parse_args(argv)
    found, wrong = check(args.build_dir, args.arch)
    total = sum(sum(c.values()) for c in found.values())
    for resource, counts in found.items():
        described = ", ".join(f"{n} {machine}" for machine, n in sorted(counts.items())) or "none"
        print(f"{resource:16} shared objects: {described}")
    if wrong:
        print(f"{len(wrong)} of {total} shared objects are not {args.arch}:", *wrong[:20], sep="\n  ")
        return 1
    if total == 0:
        print(f"no shared objects under {args.build_dir}: nothing was built there?")
        return 1
    print(f"all {total} shared objects are {args.arch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
