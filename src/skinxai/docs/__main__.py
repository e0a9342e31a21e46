"""``python -m skinxai.docs [--check] [--pictures] [--root DIR]``: rewrite the numbers of
README.md and docs/*.md from benchmarks/results/*.json (or, with --check, exit 1 naming each
page that disagrees with them), check the pages' links, and remake the pictures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from skinxai.docs.links import dead_links
from skinxai.docs.pages import check_pages, page_paths, write_pages
from skinxai.docs.results import repository_results


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 when every page is current and every link leads somewhere."""
    parser = argparse.ArgumentParser(prog="python -m skinxai.docs", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository root")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--pictures", action="store_true", help="remake docs/*.png (Chromium)")
    args = parser.parse_args(argv)
    root: Path = args.root
    if args.pictures and not args.check:  # first: the pages quote what the pictures show
        from skinxai.docs.pictures import make_pictures

        record = make_pictures(root / "docs")
        print(
            f"pictures made with {record['model']['version']}: docs/demo-figure.png, docs/page.png"
        )
    results = repository_results(root)
    try:
        if args.check:
            stale = check_pages(root, results)
            for page in stale:
                print(f"stale: {page.path.relative_to(root)}: {', '.join(page.parts)}")
            if stale:
                print("run `make docs` (python -m skinxai.docs) to rewrite them from the results")
        else:
            stale = []
            for path in write_pages(root, results):
                print(f"rewrote {path.relative_to(root)}")
    except ValueError as exc:  # a results file or value a page names is missing
        print(f"error: {exc}", file=sys.stderr)
        return 2
    dead = dead_links(page_paths(root))
    for link in dead:
        print(f"dead link: {link.page.relative_to(root)}: {link.target} ({link.reason})")
    if args.pictures and not args.check:
        from skinxai.docs.pictures import make_pictures

        record = make_pictures(root / "docs")
        print(
            f"pictures made with {record['model']['version']}: docs/demo-figure.png, docs/page.png"
        )
    return 1 if stale or dead else 0


if __name__ == "__main__":
    sys.exit(main())
